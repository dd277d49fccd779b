"""The loan mirror: the lender's loan system pushes state; LendShield keeps only what conditions need.

Events are idempotent: the same key with the same payload answers as before and changes nothing;
the same key with another payload is a conflict.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from lendshield import ledger
from lendshield.errors import Forbidden, InvalidInput
from lendshield.loans.errors import EventKeyReused, LoanNotFound
from lendshield.loans.models import LoanDeviceRow, LoanEventRow, LoanRow
from lendshield.principals import Principal
from lendshield.runtime import Runtime
from lendshield.subjects import service as subjects_service

WRITER_ROLES = frozenset({"loan_system"})
KINDS = ("overdue", "assign", "payment", "payoff", "device_financed")


@dataclass(frozen=True, slots=True)
class LoanEvent:
    kind: str
    overdue_days: int | None = None
    collector_id: str | None = None
    amount: Decimal | None = None
    asset_id: str | None = None


@dataclass(frozen=True, slots=True)
class LoanState:
    id: str
    status: str
    overdue_days: int
    assigned_collector_id: str | None
    financed_device: bool
    replayed: bool = False


def _need_writer(who: Principal) -> None:
    if not who.roles & WRITER_ROLES:
        raise Forbidden("only the loan system may push loan state")


def _state(session: Session, loan: LoanRow, replayed: bool = False) -> LoanState:
    return LoanState(
        id=loan.id,
        status=loan.status,
        overdue_days=loan.overdue_days,
        assigned_collector_id=loan.assigned_collector_id,
        financed_device=session.get(LoanDeviceRow, loan.id) is not None,
        replayed=replayed,
    )


def upsert_loan(
    session: Session, rt: Runtime, who: Principal, loan_id: str, *, borrower_id: str, principal_amount: Decimal
) -> tuple[LoanState, bool]:
    """Create or update a loan's fixed facts. Returns (state, created)."""
    _need_writer(who)
    subjects_service.require_live(session, borrower_id)
    if principal_amount <= 0:
        raise InvalidInput("principal_amount must be positive", path="principal_amount")
    now = rt.clock.now()
    loan = session.get(LoanRow, loan_id)
    created = loan is None
    if loan is None:
        loan = LoanRow(
            id=loan_id,
            borrower_id=borrower_id,
            principal_amount=principal_amount,
            status="current",
            overdue_days=0,
            assigned_collector_id=None,
            synthetic=False,
            created_at=now,
            updated_at=now,
        )
        session.add(loan)
    else:
        if loan.borrower_id != borrower_id:
            raise InvalidInput("a loan's borrower cannot change", path="borrower_id")
        loan.principal_amount = principal_amount
        loan.updated_at = now
    session.flush()
    return _state(session, loan), created


def _payload(event: LoanEvent) -> dict[str, Any]:
    """The event as stored and hashed: no empty values, amounts as strings."""
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in asdict(event).items() if v is not None}


def _validate(event: LoanEvent) -> None:
    if event.kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}", path="kind")
    if event.kind == "overdue" and (event.overdue_days is None or event.overdue_days < 0):
        raise InvalidInput("overdue needs overdue_days >= 0", path="overdue_days")
    if event.kind == "payment" and (event.amount is None or event.amount <= 0):
        raise InvalidInput("payment needs a positive amount", path="amount")
    if event.kind == "device_financed" and not event.asset_id:
        raise InvalidInput("device_financed needs the lender's asset_id", path="asset_id")


def apply_event(session: Session, rt: Runtime, who: Principal, loan_id: str, key: str, event: LoanEvent) -> LoanState:
    _need_writer(who)
    if not key or len(key) > 128:
        raise InvalidInput("an idempotency key (Idempotency-Key header or event id) of 1 to 128 characters is required", path="id")
    _validate(event)
    payload = _payload(event)
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
    loan = session.get(LoanRow, loan_id)
    if loan is None:
        raise LoanNotFound()
    seen = session.get(LoanEventRow, key)
    if seen is not None:
        if seen.loan_id != loan_id or seen.payload_sha256 != digest:
            raise EventKeyReused()
        return _state(session, loan, replayed=True)
    now = rt.clock.now()
    if event.kind == "overdue":
        assert event.overdue_days is not None
        loan.overdue_days = event.overdue_days
        loan.status = "overdue" if event.overdue_days > 0 else "current"
    elif event.kind == "assign":
        loan.assigned_collector_id = event.collector_id
    elif event.kind == "payment":
        if event.overdue_days is not None:
            loan.overdue_days = max(event.overdue_days, 0)
            loan.status = "overdue" if loan.overdue_days > 0 else "current"
    elif event.kind == "payoff":
        # Paid off: no collector may see the borrower any more (conditions stop holding at once).
        loan.status = "paid_off"
        loan.overdue_days = 0
        loan.assigned_collector_id = None
    elif event.kind == "device_financed":
        assert event.asset_id is not None
        device = session.get(LoanDeviceRow, loan_id)
        if device is None:
            session.add(LoanDeviceRow(loan_id=loan_id, asset_id=event.asset_id, financed_at=now))
        else:
            device.asset_id = event.asset_id
    loan.updated_at = now
    session.add(LoanEventRow(key=key, loan_id=loan_id, kind=event.kind, payload_sha256=digest, payload=payload, received_at=now))
    session.flush()
    ledger.append(
        session,
        ledger.Entry(
            time=now,
            actor=who.id,
            action=f"loan.{event.kind}",
            object=f"loan:{loan_id}",
            subject_ref=ledger.subject_ref(rt.keys, loan.borrower_id),
            details={"event_key_sha256": hashlib.sha256(key.encode()).hexdigest()[:16], "status": loan.status},
        ),
    )
    if event.kind in ("payment", "payoff", "overdue"):
        # A loan brought current unlocks its phone at once, and a paid-off one is released, with no
        # approval: keeping a paid-up phone locked harms the borrower (REGULATION.md, device lock).
        from lendshield.devices.service import DeviceRules, on_loan_state

        on_loan_state(session, rt, loan_id, DeviceRules())
    return _state(session, loan)


def get_loan(session: Session, who: Principal, loan_id: str) -> LoanState:
    _need_writer(who)
    loan = session.get(LoanRow, loan_id)
    if loan is None:
        raise LoanNotFound()
    return _state(session, loan)
