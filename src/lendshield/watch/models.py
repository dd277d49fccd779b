"""Tables of the watch domain: the ledger cursor, canaries and their value digests, alerts.

No personal value is stored here: canary values only as keyed digests, alerts only as rule ids,
actor ids, counts and ledger sequence numbers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lendshield.db.base import Base


class WatchCursorRow(Base):
    """One row: the highest ledger sequence number the watch has processed."""

    __tablename__ = "watch_cursor"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime]


class CanaryRow(Base):
    """A synthetic subject that no legitimate work touches; any ledger entry about it is an alert."""

    __tablename__ = "watch_canaries"

    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), primary_key=True)
    subject_ref: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(120))
    registered_seq: Mapped[int] = mapped_column(BigInteger)
    """The ledger entry that registered it: entries up to this one are its own creation."""
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class CanaryValueRow(Base):
    """A keyed digest (HMAC) of one canary value, normalised as the vault and the scanner do."""

    __tablename__ = "watch_canary_values"
    __table_args__ = (
        CheckConstraint("kind IN ('resident_id', 'mobile', 'bank_card')", name="kind"),
        UniqueConstraint("kind", "digest"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    canary_id: Mapped[str] = mapped_column(ForeignKey("watch_canaries.subject_id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    digest: Mapped[bytes] = mapped_column(LargeBinary(32))


class AlertRow(Base):
    """One alert per (rule, actor, window): later triggers in the same window add evidence to it."""

    __tablename__ = "watch_alerts"
    __table_args__ = (
        CheckConstraint("severity IN ('low', 'medium', 'high')", name="severity"),
        CheckConstraint("status IN ('open', 'acknowledged', 'resolved')", name="status"),
        UniqueConstraint("rule_id", "actor", "window_key"),
        Index("ix_watch_alerts_status_severity", "status", "severity"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rule_id: Mapped[str] = mapped_column(String(64), index=True)
    severity: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(64), index=True)
    window_key: Mapped[str] = mapped_column(String(120))
    title: Mapped[str] = mapped_column(String(300))
    measure: Mapped[int] = mapped_column(Integer)
    """What the rule counted (distinct people, denials, records ...) at its highest in the window."""
    threshold: Mapped[int] = mapped_column(Integer)
    facts: Mapped[dict[str, Any]] = mapped_column(JSON)
    trigger_count: Mapped[int] = mapped_column(Integer)
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AlertEntryRow(Base):
    """A ledger entry that triggered an alert."""

    __tablename__ = "watch_alert_entries"

    alert_id: Mapped[int] = mapped_column(ForeignKey("watch_alerts.id"), primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)


class AlertNoteRow(Base):
    """Every change of an alert's status, with who made it and their note."""

    __tablename__ = "watch_alert_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("watch_alerts.id"), index=True)
    at: Mapped[datetime]
    by: Mapped[str] = mapped_column(String(64))
    from_status: Mapped[str] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text)
    ledger_seq: Mapped[int] = mapped_column(BigInteger)


class AlertDeliveryRow(Base):
    """The outbox: one row per alert event and channel, written in the transaction that raised it.

    A row is sent at least once: it stays ``pending`` (with its next attempt pushed back after each
    failure) until the receiver accepts it, and is ``failed`` only after the configured number of
    attempts. ``last_error`` holds the kind of failure (a status code, an exception name), never a
    response body.
    """

    __tablename__ = "watch_alert_deliveries"
    __table_args__ = (
        CheckConstraint("channel IN ('webhook', 'email')", name="channel"),
        CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="status"),
        CheckConstraint("attempts >= 0", name="attempts"),
        Index("ix_watch_alert_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("watch_alerts.id"), index=True)
    event: Mapped[str] = mapped_column(String(32))
    """What happened to the alert: ``raised`` or ``reopened``."""
    channel: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime]
    """When the next attempt is due; pushed forward by a sender while it holds the row."""
    last_attempt_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
