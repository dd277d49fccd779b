"""HTTP routes of the loans domain: the loan system pushes state (role loan_system only)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from lendshield.loans import service
from lendshield.web.deps import PrincipalDep, RuntimeDep, unit_of_work

router = APIRouter(prefix="/v1/loans", tags=["loans"])
LoanId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]


class LoanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    borrower_id: str = Field(min_length=36, max_length=36)
    principal_amount: Decimal = Field(gt=0, max_digits=14, decimal_places=2)


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str | None = Field(default=None, min_length=1, max_length=128, description="Event id; used as idempotency key if no header.")
    kind: Literal["overdue", "assign", "payment", "payoff", "device_financed"]
    overdue_days: int | None = Field(default=None, ge=0, le=100_000)
    collector_id: str | None = Field(default=None, max_length=36)
    amount: Decimal | None = Field(default=None, gt=0, max_digits=14, decimal_places=2)
    asset_id: str | None = Field(default=None, min_length=1, max_length=64)


class LoanOut(BaseModel):
    id: str
    status: str
    overdue_days: int
    assigned_collector_id: str | None
    financed_device: bool
    replayed: bool = False


def _out(state: service.LoanState) -> LoanOut:
    return LoanOut(
        id=state.id,
        status=state.status,
        overdue_days=state.overdue_days,
        assigned_collector_id=state.assigned_collector_id,
        financed_device=state.financed_device,
        replayed=state.replayed,
    )


@router.put("/{loan_id}", response_model=LoanOut)
def upsert_loan(loan_id: LoanId, body: LoanIn, rt: RuntimeDep, who: PrincipalDep, response: Response) -> LoanOut:
    with unit_of_work(rt) as session:
        state, created = service.upsert_loan(
            session, rt, who, loan_id, borrower_id=body.borrower_id, principal_amount=body.principal_amount
        )
    response.status_code = 201 if created else 200
    return _out(state)


@router.get("/{loan_id}", response_model=LoanOut)
def get_loan(loan_id: LoanId, rt: RuntimeDep, who: PrincipalDep) -> LoanOut:
    with unit_of_work(rt) as session:
        return _out(service.get_loan(session, who, loan_id))


@router.post("/{loan_id}/events", response_model=LoanOut)
def post_event(
    loan_id: LoanId,
    body: EventIn,
    rt: RuntimeDep,
    who: PrincipalDep,
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
) -> LoanOut:
    """Apply one event; replaying the same key and payload returns the state and changes nothing."""
    event = service.LoanEvent(
        kind=body.kind, overdue_days=body.overdue_days, collector_id=body.collector_id, amount=body.amount, asset_id=body.asset_id
    )
    with unit_of_work(rt) as session:
        state = service.apply_event(session, rt, who, loan_id, idempotency_key or body.id or "", event)
    return _out(state)
