"""Case-state facts for policy conditions, read from the loan mirror and support tickets.

Only the conditions some rule for these roles and purpose depends on are looked up.
"""

from __future__ import annotations

from sqlalchemy import exists, select
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
    if not needed:
        return frozenset()
    ids = _borrowers(session, subject_id)
    out: set[str] = set()
    overdue = (LoanRow.borrower_id.in_(ids), LoanRow.status == "overdue", LoanRow.overdue_days > 0)
    if "collector_assigned_overdue" in needed and session.scalar(select(exists().where(*overdue, LoanRow.assigned_collector_id == who.id))):
        out.add("collector_assigned_overdue")
    if "overdue_loan" in needed and session.scalar(select(exists().where(*overdue))):
        out.add("overdue_loan")
    if "financed_device" in needed and session.scalar(
        select(exists().where(LoanDeviceRow.loan_id == LoanRow.id, LoanRow.borrower_id == subject_id, LoanRow.status != "paid_off"))
    ):
        out.add("financed_device")
    if "open_ticket" in needed and session.scalar(
        select(exists().where(TicketRow.subject_id == subject_id, TicketRow.closed_at.is_(None)))
    ):
        out.add("open_ticket")
    if "own_data" in needed and who.kind == "borrower":
        # A portal principal's id is its account id, never the subject id (the ledger's actor must
        # not name the person); the account row links the two.
        mine = select(exists().where(AccountRow.id == who.id, AccountRow.kind == "borrower", AccountRow.subject_id == subject_id))
        if session.scalar(mine):
            out.add("own_data")
    return frozenset(out)
