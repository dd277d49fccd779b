"""Tables of the policy domain: case state the conditions need that no other domain holds."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from lendshield.db.base import Base


class TicketRow(Base):
    """A customer-support ticket: while open, support may see the subject's contact data."""

    __tablename__ = "support_tickets"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), index=True)
    opened_by: Mapped[str] = mapped_column(String(36))
    opened_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
