"""Links between borrowers and their emergency contacts (no personal values: ids only)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from lendshield.subjects.models import SubjectLinkRow


def borrowers_of(session: Session, contact_id: str) -> list[str]:
    """The borrowers a subject is an emergency contact of (empty for a borrower)."""
    return list(session.scalars(select(SubjectLinkRow.borrower_id).where(SubjectLinkRow.contact_id == contact_id)))
