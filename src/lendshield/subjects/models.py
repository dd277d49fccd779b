"""The vault's tables. Field values are ciphertext only; keys are wrapped; lookups are keyed digests."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lendshield.db.base import Base


class SubjectRow(Base):
    __tablename__ = "subjects"
    __table_args__ = (
        CheckConstraint("kind IN ('borrower', 'contact', 'canary')", name="kind"),
        CheckConstraint("status IN ('active', 'shredded')", name="status"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="active")
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    created_at: Mapped[datetime]
    shredded_at: Mapped[datetime | None]
    shred_reason: Mapped[str | None] = mapped_column(String(500))


class SubjectKeyRow(Base):
    """The subject's data key, wrapped by a KEK. Deleting this row is crypto-shredding."""

    __tablename__ = "subject_keys"

    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), primary_key=True)
    kek_version: Mapped[str] = mapped_column(String(32), index=True)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary(128))


class FieldValueRow(Base):
    __tablename__ = "field_values"
    __table_args__ = (
        UniqueConstraint("subject_id", "field", "version"),
        Index("ix_field_values_current", "subject_id", "current"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"))
    field: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    current: Mapped[bool] = mapped_column(Boolean)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(64))


class BlindIndexRow(Base):
    __tablename__ = "blind_indexes"
    __table_args__ = (Index("ix_blind_indexes_lookup", "field", "digest"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), index=True)
    field: Mapped[str] = mapped_column(String(64))
    digest: Mapped[bytes] = mapped_column(LargeBinary(32))


class TokenRow(Base):
    __tablename__ = "vault_tokens"
    __table_args__ = (UniqueConstraint("subject_id", "field", "value_digest"),)

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), index=True)
    field: Mapped[str] = mapped_column(String(64))
    value_digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime]


class SubjectLinkRow(Base):
    """An emergency contact (a subject of their own) linked to a borrower.

    The relation is sealed under the contact's data key (``subjects.links``); NULL only for a
    contact crypto-shredded before relations were sealed, whose relation was then dropped.
    """

    __tablename__ = "subject_links"
    __table_args__ = (UniqueConstraint("borrower_id", "contact_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    borrower_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), index=True)
    contact_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), index=True)
    relation_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
