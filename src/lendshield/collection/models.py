"""Tables of the collection domain."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from lendshield.db.base import Base


class OutboxRow(Base):
    """A message or call the built-in outbox adapter delivered; number and text sealed (never clear)."""

    __tablename__ = "collection_outbox"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # sms | call
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), index=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
