"""Principals and tokens over HTTP (administrators)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from lendshield.principals import Principal, service
from lendshield.web.deps import PrincipalDep, RuntimeDep, unit_of_work

router = APIRouter(prefix="/v1/principals", tags=["principals"])


class PrincipalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=120, pattern=r"^[A-Za-z0-9._@-]+$")]
    kind: Literal["staff", "service"] = "staff"
    roles: list[Annotated[str, Field(max_length=64)]] = Field(min_length=1, max_length=16)


class PrincipalOut(BaseModel):
    id: str
    name: str
    kind: str
    roles: list[str]


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: Annotated[str, Field(min_length=1, max_length=120)] = "api"
    ttl_days: Annotated[int, Field(ge=1, le=3650)] | None = None


class TokenOut(BaseModel):
    token: str
    note: str = "shown once; store it now"


class ActiveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    active: bool


PrincipalId = Annotated[str, Path(min_length=1, max_length=36)]


def _out(p: Principal) -> PrincipalOut:
    return PrincipalOut(id=p.id, name=p.name, kind=p.kind, roles=sorted(p.roles))


@router.get("/me", response_model=PrincipalOut)
def me(who: PrincipalDep) -> PrincipalOut:
    return _out(who)


@router.get("", response_model=list[PrincipalOut])
def list_all(rt: RuntimeDep, who: PrincipalDep) -> list[PrincipalOut]:
    with unit_of_work(rt) as session:
        return [_out(p) for p in service.list_principals(session, who)]


@router.post("", response_model=PrincipalOut, status_code=201)
def create(body: PrincipalIn, rt: RuntimeDep, who: PrincipalDep) -> PrincipalOut:
    with unit_of_work(rt) as session:
        p = service.create_principal(session, who, rt.catalog, name=body.name, kind=body.kind, roles=body.roles, now=rt.clock.now())
    return _out(p)


@router.post("/{principal_id}/tokens", response_model=TokenOut, status_code=201)
def issue(principal_id: PrincipalId, body: TokenIn, rt: RuntimeDep, who: PrincipalDep) -> TokenOut:
    with unit_of_work(rt) as session:
        token = service.issue_token(
            session,
            who,
            principal_id,
            label=body.label,
            now=rt.clock.now(),
            ttl=timedelta(days=body.ttl_days) if body.ttl_days else None,
        )
    return TokenOut(token=token)


@router.post("/{principal_id}/active", response_model=PrincipalOut)
def set_active(principal_id: PrincipalId, body: ActiveIn, rt: RuntimeDep, who: PrincipalDep) -> PrincipalOut:
    with unit_of_work(rt) as session:
        return _out(service.set_active(session, who, principal_id, body.active, rt.clock.now()))


@router.delete("/tokens/{token_id}", status_code=204)
def revoke(token_id: Annotated[str, Path(max_length=24)], rt: RuntimeDep, who: PrincipalDep) -> None:
    with unit_of_work(rt) as session:
        service.revoke_token(session, who, token_id, rt.clock.now())
