"""Tables of the collection domain."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String
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


class ContactRow(Base):
    """One contact attempt, allowed or blocked: the evidence record the borrower can obtain (R11).

    ``text_sealed`` holds the message as sent, sealed under the borrower's data key; the ledger
    entry holds its digest. ``code_digest`` is a keyed digest of the verification code.
    """

    __tablename__ = "collection_contacts"
    __table_args__ = (
        CheckConstraint("channel IN ('call', 'sms', 'visit')", name="channel"),
        CheckConstraint("target_role IN ('debtor', 'guarantor', 'third_party')", name="target_role"),
        Index("ix_collection_contacts_borrower_at", "borrower_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    loan_id: Mapped[str] = mapped_column(ForeignKey("loans.id"), index=True)
    borrower_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"))
    target_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), index=True)
    target_role: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(8))
    collector_id: Mapped[str] = mapped_column(String(36), index=True)
    participants: Mapped[list[str]] = mapped_column(JSON, default=list)  # field visits: every collector present
    preset: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(16))  # blocked | pending | connected | unanswered | sent | visited | failed
    rule_id: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(500))
    next_allowed_at: Mapped[datetime | None]
    text_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    text_sha256: Mapped[str | None] = mapped_column(String(64))
    code_digest: Mapped[bytes | None] = mapped_column(LargeBinary(32), unique=True)
    provider_ref: Mapped[str | None] = mapped_column(String(128))
    duration_s: Mapped[int | None] = mapped_column(Integer)
    ledger_seq: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


class RecordingRow(Base):
    """A call recording or visit media file: sealed on disk under the borrower's key, hash in the ledger."""

    __tablename__ = "collection_recordings"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    contact_id: Mapped[str] = mapped_column(ForeignKey("collection_contacts.id"), index=True)
    borrower_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), index=True)
    media_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    blob_name: Mapped[str] = mapped_column(String(80))
    ledger_seq: Mapped[int] = mapped_column(Integer)
    uploaded_by: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[datetime]
    retain_until: Mapped[datetime]


class ComplaintRow(Base):
    """A complaint about a contact, or a dispute of the debt: while open, collection on the loan pauses."""

    __tablename__ = "collection_complaints"
    __table_args__ = (
        CheckConstraint("kind IN ('complaint', 'dispute')", name="kind"),
        CheckConstraint("status IN ('open', 'resolved')", name="status"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    loan_id: Mapped[str] = mapped_column(ForeignKey("loans.id"), index=True)
    borrower_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), index=True)
    contact_id: Mapped[str | None] = mapped_column(ForeignKey("collection_contacts.id"))
    text_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    filed_by: Mapped[str] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str | None] = mapped_column(String(2000))
    resolved_by: Mapped[str | None] = mapped_column(String(36))
    opened_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]


class RefusalRow(Base):
    """A third party's documented refusal of further contact about a borrower (stops contact)."""

    __tablename__ = "collection_refusals"

    target_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), primary_key=True)
    borrower_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), primary_key=True)
    contact_id: Mapped[str] = mapped_column(ForeignKey("collection_contacts.id"))
    recorded_by: Mapped[str] = mapped_column(String(36))
    recorded_at: Mapped[datetime]


class PreferenceRow(Base):
    """The borrower's chosen channels for collection contact (honoured by the guard)."""

    __tablename__ = "collection_preferences"

    borrower_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), primary_key=True)
    channels: Mapped[list[str]] = mapped_column(JSON)
    updated_at: Mapped[datetime]
