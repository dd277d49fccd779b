"""Tables of the transfers domain: recipients, exports and provisions, their fingerprints, volumes.

No personal value is stored here: exports keep keyed digests (HMAC) of what they contained.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from lendshield.db.base import Base


class RecipientRow(Base):
    """A third party or an entrusted processor (PIPL Arts. 21, 23) and, abroad, its legal mechanism (Art. 38)."""

    __tablename__ = "transfer_recipients"
    __table_args__ = (
        CheckConstraint("kind IN ('third_party', 'entrusted_processor')", name="kind"),
        CheckConstraint("status IN ('active', 'retired')", name="status"),
        CheckConstraint(
            "mechanism IS NULL OR mechanism IN ('security_assessment', 'standard_contract', 'certification', 'exemption')",
            name="mechanism",
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(24))
    region: Mapped[str] = mapped_column(String(2))
    contact: Mapped[str] = mapped_column(String(300))
    purposes: Mapped[list[Any]] = mapped_column(JSON)
    categories: Mapped[list[Any]] = mapped_column(JSON)
    contract_ref: Mapped[str] = mapped_column(String(200))
    mechanism: Mapped[str | None] = mapped_column(String(24), nullable=True)
    mechanism_evidence: Mapped[str | None] = mapped_column(String(300), nullable=True)
    mechanism_valid_from: Mapped[date | None] = mapped_column(Date, nullable=True)
    mechanism_valid_until: Mapped[date | None] = mapped_column(Date, nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(36))
    updated_at: Mapped[datetime]


class ExportRow(Base):
    """One file that left: a staff bulk export, or a provision to a recipient (``recipient_id`` set)."""

    __tablename__ = "transfer_exports"
    __table_args__ = (
        CheckConstraint("kind IN ('export', 'provision')", name="kind"),
        CheckConstraint("format IN ('csv', 'jsonl', 'xlsx')", name="format"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    made_by: Mapped[str] = mapped_column(String(36))
    purpose: Mapped[str] = mapped_column(String(64))
    recipient_id: Mapped[str | None] = mapped_column(ForeignKey("transfer_recipients.id"), nullable=True, index=True)
    format: Mapped[str] = mapped_column(String(8))
    fields: Mapped[list[Any]] = mapped_column(JSON)
    people: Mapped[int] = mapped_column(Integer)
    canaries: Mapped[int] = mapped_column(Integer)
    file_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class ExportSubjectRow(Base):
    """Who was in an export: answers "who received my data, and when" (PIPL Art. 45)."""

    __tablename__ = "transfer_export_subjects"

    export_id: Mapped[str] = mapped_column(ForeignKey("transfer_exports.id"), primary_key=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), primary_key=True, index=True)


class MarkRow(Base):
    """A keyed digest of one exported value, canary value or row reference, by export and row slot.

    ``canary`` marks a canary value distinctive enough to name its export alone (an ID, a number, a
    card); ``weak`` a canary value that is not (a common name, an amount, a masked value): it names
    the export only together with other values of the same canary row.
    """

    __tablename__ = "transfer_marks"
    __table_args__ = (
        CheckConstraint("kind IN ('value', 'canary', 'weak', 'rowref')", name="kind"),
        Index("ix_transfer_marks_digest", "digest"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    export_id: Mapped[str] = mapped_column(ForeignKey("transfer_exports.id"), index=True)
    slot: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(8))
    digest: Mapped[bytes] = mapped_column(LargeBinary(16))


class VolumeRow(Base):
    """Distinct people provided abroad in one calendar year (counted from 1 January), all recipients together."""

    __tablename__ = "transfer_volumes"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    people: Mapped[int] = mapped_column(Integer)
    sensitive_people: Mapped[int] = mapped_column(Integer)


class VolumePersonRow(Base):
    """A person already counted in a year's volume; ``sensitive`` once their sensitive data went abroad."""

    __tablename__ = "transfer_volume_people"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), primary_key=True)
    recipient_id: Mapped[str] = mapped_column(ForeignKey("transfer_recipients.id"))
    counted_people: Mapped[bool] = mapped_column(Boolean)
    sensitive: Mapped[bool] = mapped_column(Boolean)
