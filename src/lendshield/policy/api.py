"""HTTP routes of the policy domain: dry-run decisions, policy status and reload, support tickets."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from lendshield.errors import Forbidden
from lendshield.policy import service
from lendshield.web.deps import PrincipalDep, RuntimeDep, unit_of_work

router = APIRouter(tags=["policy"])


class DecideIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    purpose: str = Field(min_length=1, max_length=64)
    fields: list[str] = Field(min_length=1, max_length=64)
    clear: bool = False
    roles: list[str] | None = Field(default=None, max_length=16)
    subject_id: str | None = Field(default=None, min_length=36, max_length=36)


class DecisionOut(BaseModel):
    effect: str
    rule_id: str
    reason: str


class DecideOut(BaseModel):
    roles: list[str]
    purpose: str
    facts: list[str]
    decisions: dict[str, DecisionOut]


class PolicyStatus(BaseModel):
    rules: int
    purposes: list[str]
    last_reload_error: str | None


class TicketIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    subject_id: str = Field(min_length=36, max_length=36)


class TicketOut(BaseModel):
    id: str


@router.post("/v1/policy/decide", response_model=DecideOut)
def decide(body: DecideIn, rt: RuntimeDep, who: PrincipalDep) -> DecideOut:
    """Dry run: what the gate would decide (with case state and consent when a subject is named); reads nothing."""
    with unit_of_work(rt) as session:
        run = service.decide(
            session, rt, who, purpose=body.purpose, fields=body.fields, clear=body.clear, roles=body.roles, subject_id=body.subject_id
        )
    return DecideOut(
        roles=sorted(run.roles),
        purpose=run.purpose,
        facts=sorted(run.facts),
        decisions={n: DecisionOut(effect=d.effect.value, rule_id=d.rule_id, reason=d.reason) for n, d in run.decisions.items()},
    )


@router.get("/v1/policy", response_model=PolicyStatus)
def status(rt: RuntimeDep, who: PrincipalDep) -> PolicyStatus:
    return PolicyStatus(rules=rt.policy.rule_count, purposes=sorted(rt.policy.purposes.by_id), last_reload_error=rt.policy_error)


@router.post("/v1/policy/reload", response_model=PolicyStatus)
def reload(rt: RuntimeDep, who: PrincipalDep) -> PolicyStatus:
    """Reload the policy files; on error the last good policy stays and the answer says why."""
    if not who.has_role("protection_officer", "admin"):
        raise Forbidden("only the protection officer or an administrator reloads the policy")
    rt.reload_policy()
    return status(rt, who)


@router.post("/v1/tickets", status_code=201, response_model=TicketOut)
def open_ticket(body: TicketIn, rt: RuntimeDep, who: PrincipalDep) -> TicketOut:
    with unit_of_work(rt) as session:
        return TicketOut(id=service.open_ticket(session, rt, who, body.subject_id))


@router.post("/v1/tickets/{ticket_id}/close", status_code=204)
def close_ticket(ticket_id: Annotated[str, Path(min_length=36, max_length=36)], rt: RuntimeDep, who: PrincipalDep) -> None:
    with unit_of_work(rt) as session:
        service.close_ticket(session, rt, who, ticket_id)
