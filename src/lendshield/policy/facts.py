"""Case-state facts for policy conditions, read from the loan mirror and support tickets.

Only the conditions some rule for these roles and purpose depends on are looked up.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, exists, select
from sqlalchemy.orm import Session

from lendshield.accounts.models import AccountRow
from lendshield.loans.models import LoanDeviceRow, LoanRow
from lendshield.policy.models import TicketRow
from lendshield.principals import Principal
from lendshield.subjects.links import borrowers_of


def _borrowers(session: Session, subject_id: str) -> list[str]:
    """The subject and, for an emergency contact, the borrowers it is a contact of."""
    return [subject_id, *borrowers_of(session, subject_id)]


def facts_for(session: Session, who: Principal, subject_id: str, needed: frozenset[str]) -> frozenset[str]:
    """The needed conditions that hold, asked in one statement (plus the contact links when an
    overdue-loan condition is needed)."""
    if not needed:
        return frozenset()
    checks: dict[str, ColumnElement[bool]] = {}
    if needed & {"collector_assigned_overdue", "overdue_loan"}:
        ids = _borrowers(session, subject_id)
        overdue = (LoanRow.borrower_id.in_(ids), LoanRow.status == "overdue", LoanRow.overdue_days > 0)
        if "collector_assigned_overdue" in needed:
            checks["collector_assigned_overdue"] = exists().where(*overdue, LoanRow.assigned_collector_id == who.id)
        if "overdue_loan" in needed:
            checks["overdue_loan"] = exists().where(*overdue)
    if "financed_device" in needed:
        checks["financed_device"] = exists().where(
            LoanDeviceRow.loan_id == LoanRow.id, LoanRow.borrower_id == subject_id, LoanRow.status != "paid_off"
        )
    if "open_ticket" in needed:
        checks["open_ticket"] = exists().where(TicketRow.subject_id == subject_id, TicketRow.closed_at.is_(None))
    if "own_data" in needed and who.kind == "borrower":
        # A portal principal's id is its account id, never the subject id (the ledger's actor must
        # not name the person); the account row links the two.
        checks["own_data"] = exists().where(AccountRow.id == who.id, AccountRow.kind == "borrower", AccountRow.subject_id == subject_id)
    if not checks:
        return frozenset()
    row = session.execute(select(*(check.label(name) for name, check in checks.items()))).one()
    return frozenset(name for name, held in zip(checks, row, strict=True) if held)
