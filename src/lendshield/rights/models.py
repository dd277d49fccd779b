"""Tables of the rights domain: requests, verification codes, holds, tombstones, automated decisions.

No personal value is stored in clear: free text (a report, correction evidence, the new value)
and access packages are sealed under the person's own data key, so crypto-shredding covers them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lendshield.db.base import Base

REQUEST_TYPES = ("access", "portability", "correction", "deletion", "withdrawal", "restriction", "explanation", "report")
STATUSES = ("unverified", "open", "in_progress", "held", "fulfilled", "refused")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class RightsRequestRow(Base):
    """One data-subject request (PIPL Arts. 44-50) or report of abuse (MISSION R8)."""

    __tablename__ = "rights_requests"
    __table_args__ = (
        CheckConstraint(_in("type", REQUEST_TYPES), name="type"),
        CheckConstraint(_in("status", STATUSES), name="status"),
        CheckConstraint("status <> 'refused' OR refusal_reason IS NOT NULL", name="refusal_has_reason"),
        Index("ix_rights_requests_status_due", "status", "due_on"),
        UniqueConstraint("filed_by", "idempotency_key"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), index=True)
    type: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))  # portal | staff
    filed_by: Mapped[str] = mapped_column(String(36))
    filed_at: Mapped[datetime]
    jurisdiction: Mapped[str] = mapped_column(String(8))
    verified_at: Mapped[datetime | None]
    verified_by: Mapped[str | None] = mapped_column(String(16))  # session | code
    owner_id: Mapped[str | None] = mapped_column(String(36))
    due_on: Mapped[date] = mapped_column(Date)
    original_due_on: Mapped[date] = mapped_column(Date)
    extension_reason: Mapped[str | None] = mapped_column(String(1000))
    deadline_estimated_years: Mapped[list[Any]] = mapped_column(JSON)
    """Years the deadline crossed with no official calendar: counted by weekdays only."""
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    """Non-personal parameters: grounds, purposes, a field name, a decision id, outcomes."""
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    """Free text and values given by the person, sealed under their own data key."""
    answered_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(1000))
    refusal_reason: Mapped[str | None] = mapped_column(String(1000))
    package: Mapped[bytes | None] = mapped_column(LargeBinary)
    package_sha256: Mapped[str | None] = mapped_column(String(64))
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    """The filer's Idempotency-Key: filing again with it returns this request instead of a second one."""
    body_digest: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    """Keyed digest of what was filed under that key (a different body with the same key is refused)."""


class VerificationCodeRow(Base):
    """A one-time code sent to the person's verified phone; only a keyed digest is kept."""

    __tablename__ = "rights_codes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("rights_requests.id"), index=True)
    digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[datetime | None]


class HoldRow(Base):
    """A legal hold (the law makes us keep the data) or a restriction the person asked for (Art. 44).

    Either limits the data to storage only until ``ends_on`` (or until lifted); a legal hold also
    blocks deletion (Art. 47, second paragraph).
    """

    __tablename__ = "rights_holds"
    __table_args__ = (CheckConstraint("kind IN ('legal_hold', 'restriction')", name="kind"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(1000))
    ends_on: Mapped[date | None] = mapped_column(Date)
    request_id: Mapped[str | None] = mapped_column(ForeignKey("rights_requests.id"))
    created_by: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[datetime]
    lifted_at: Mapped[datetime | None]
    lifted_by: Mapped[str | None] = mapped_column(String(36))


class TombstoneRow(Base):
    """What is left of a deleted person: when, on which ground, by whom. No personal data."""

    __tablename__ = "rights_tombstones"

    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), primary_key=True)
    deleted_at: Mapped[datetime]
    ground: Mapped[str] = mapped_column(String(32))
    request_id: Mapped[str | None] = mapped_column(ForeignKey("rights_requests.id"))
    deleted_by: Mapped[str] = mapped_column(String(36))
    ledger_seq: Mapped[int] = mapped_column(Integer)


class AutomatedDecisionRow(Base):
    """An automated decision about a person, recorded by the lender's systems (PIPL Art. 24)."""

    __tablename__ = "rights_decisions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), index=True)
    system: Mapped[str] = mapped_column(String(64))
    decision_type: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(200))
    input_categories: Mapped[list[Any]] = mapped_column(JSON)
    logic_summary: Mapped[str] = mapped_column(String(2000))
    solely_automated: Mapped[bool] = mapped_column(Boolean, default=True)
    made_at: Mapped[datetime]
    recorded_by: Mapped[str] = mapped_column(String(36))
    review_outcome: Mapped[str | None] = mapped_column(String(1000))
    reviewed_at: Mapped[datetime | None]


class AlertRow(Base):
    """Something operators must act on: a deadline near or passed, a year of holidays missing, a new report."""

    __tablename__ = "rights_alerts"
    __table_args__ = (CheckConstraint("kind IN ('due_soon', 'overdue', 'calendar_missing', 'new_report')", name="kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(24))
    request_id: Mapped[str | None] = mapped_column(ForeignKey("rights_requests.id"), index=True)
    message: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
