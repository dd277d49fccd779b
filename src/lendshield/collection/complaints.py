"""Complaints about a contact and disputes of a debt: while one is open, collection on the loan
pauses (and so does any phone lock), until a supervisor resolves it with a written outcome."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from lendshield import ledger
from lendshield.collection.errors import ComplaintNotFound
from lendshield.collection.models import ComplaintRow, ContactRow
from lendshield.collection.service import _is_own
from lendshield.errors import Conflict, Forbidden, InvalidInput, NotFound
from lendshield.loans.models import LoanRow
from lendshield.principals import Principal
from lendshield.runtime import Runtime
from lendshield.subjects import records

FILER_ROLES = frozenset({"customer_service"})
RESOLVER_ROLES = frozenset({"collection_supervisor"})
READER_ROLES = frozenset({"collection_supervisor", "customer_service", "protection_officer", "auditor"})
MAX_TEXT = 4000


@dataclass(frozen=True, slots=True)
class ComplaintView:
    id: str
    kind: str
    loan_id: str
    contact_id: str | None
    status: str
    text: str | None
    outcome: str | None
    opened_at: datetime
    resolved_at: datetime | None


def file(
    session: Session, rt: Runtime, who: Principal, *, loan_id: str, kind: str, text: str, contact_id: str | None = None
) -> ComplaintView:
    """The borrower (portal) or customer service on their behalf files a complaint or a dispute."""
    if kind not in ("complaint", "dispute"):
        raise InvalidInput("kind must be complaint or dispute", path="kind")
    if not text.strip() or len(text) > MAX_TEXT:
        raise InvalidInput(f"text: 1 to {MAX_TEXT} characters", path="text")
    loan = session.get(LoanRow, loan_id) if len(loan_id) <= 64 else None
    if loan is None:
        raise NotFound("no such loan")
    if not (who.roles & FILER_ROLES or _is_own(session, who, loan.borrower_id)):
        raise Forbidden("only the borrower or customer service may file a complaint")
    if contact_id is not None:
        contact = session.get(ContactRow, contact_id) if len(contact_id) <= 36 else None
        if contact is None or contact.loan_id != loan.id:
            raise InvalidInput("contact_id: not a contact about this loan", path="contact_id")
    cid = str(uuid.uuid4())
    now = rt.clock.now()
    row = ComplaintRow(
        id=cid,
        kind=kind,
        loan_id=loan.id,
        borrower_id=loan.borrower_id,
        contact_id=contact_id,
        text_sealed=records.seal_record(session, rt, loan.borrower_id, f"complaint:{cid}", text.encode()),
        filed_by=who.id,
        status="open",
        opened_at=now,
    )
    session.add(row)
    session.flush()
    ledger.append(
        session,
        ledger.Entry(
            time=now,
            actor=who.id,
            action=f"collection.{kind}_filed",
            object=f"complaint:{cid}",
            subject_ref=ledger.subject_ref(rt.keys, loan.borrower_id),
            details={"loan": loan.id, "contact": contact_id or "", "text_sha256": ledger.digest_of({"text": text})},
        ),
    )
    return _view(session, rt, row, with_text=True)


def resolve(session: Session, rt: Runtime, who: Principal, complaint_id: str, *, outcome: str) -> ComplaintView:
    if not who.roles & RESOLVER_ROLES:
        raise Forbidden("only a collection supervisor resolves complaints")
    if not outcome.strip() or len(outcome) > 2000:
        raise InvalidInput("outcome: a written outcome of 1 to 2000 characters is required", path="outcome")
    row = _get(session, complaint_id)
    if row.status != "open":
        raise Conflict("this complaint is already resolved")
    now = rt.clock.now()
    row.status, row.outcome, row.resolved_by, row.resolved_at = "resolved", outcome, who.id, now
    ledger.append(
        session,
        ledger.Entry(
            time=now,
            actor=who.id,
            action=f"collection.{row.kind}_resolved",
            object=f"complaint:{row.id}",
            subject_ref=ledger.subject_ref(rt.keys, row.borrower_id),
            reason=outcome,
        ),
    )
    return _view(session, rt, row, with_text=False)


def _get(session: Session, complaint_id: str) -> ComplaintRow:
    row = session.get(ComplaintRow, complaint_id) if len(complaint_id) <= 36 else None
    if row is None:
        raise ComplaintNotFound()
    return row


def _view(session: Session, rt: Runtime, row: ComplaintRow, *, with_text: bool) -> ComplaintView:
    text = records.open_record(session, rt, row.borrower_id, f"complaint:{row.id}", row.text_sealed).decode() if with_text else None
    return ComplaintView(row.id, row.kind, row.loan_id, row.contact_id, row.status, text, row.outcome, row.opened_at, row.resolved_at)


def get(session: Session, rt: Runtime, who: Principal, complaint_id: str) -> ComplaintView:
    row = _get(session, complaint_id)
    if not (who.roles & READER_ROLES or _is_own(session, who, row.borrower_id)):
        raise Forbidden("not allowed to read this complaint")
    return _view(session, rt, row, with_text=True)


def list_open(session: Session, rt: Runtime, who: Principal) -> list[ComplaintView]:
    if not who.roles & READER_ROLES:
        raise Forbidden("not allowed to list complaints")
    rows = session.scalars(select(ComplaintRow).where(ComplaintRow.status == "open").order_by(ComplaintRow.opened_at)).all()
    return [_view(session, rt, r, with_text=False) for r in rows]
