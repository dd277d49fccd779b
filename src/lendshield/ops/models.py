"""Records of backups and restore drills (no key material, no personal data)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lendshield.db.base import Base


class BackupRunRow(Base):
    __tablename__ = "ops_backups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime]
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    ledger_size: Mapped[int] = mapped_column(Integer)


class DrillRunRow(Base):
    __tablename__ = "ops_drills"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    backup_name: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    ok: Mapped[bool] = mapped_column(Boolean)
    summary: Mapped[dict[str, object]] = mapped_column(JSON)


class JobRow(Base):
    """A unit of background work, claimed by a worker under a lease."""

    __tablename__ = "ops_jobs"
    __table_args__ = (
        CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="status"),
        Index("ix_ops_jobs_due", "status", "run_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    run_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    max_attempts: Mapped[int] = mapped_column(Integer)
    lease_until: Mapped[datetime | None]
    locked_by: Mapped[str | None] = mapped_column(String(80))
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    unique_key: Mapped[str | None] = mapped_column(String(120), index=True)


class IncidentRow(Base):
    __tablename__ = "ops_incidents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    cause: Mapped[str] = mapped_column(String(2000))
    harm: Mapped[str] = mapped_column(String(2000))
    remedies: Mapped[str] = mapped_column(String(2000))
    advice: Mapped[str] = mapped_column(String(2000))
    contact: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16))
    opened_at: Mapped[datetime]
    opened_by: Mapped[str] = mapped_column(String(64))
    regulator_notified_at: Mapped[datetime | None]
    regulator_channel: Mapped[str | None] = mapped_column(String(32))
    notice_overdue_alerted_at: Mapped[datetime | None]


class IncidentSubjectRow(Base):
    """An affected person, known only by their ledger reference until a notice is delivered."""

    __tablename__ = "ops_incident_subjects"
    __table_args__ = (UniqueConstraint("incident_id", "subject_ref"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("ops_incidents.id"), index=True)
    subject_ref: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16))
    categories: Mapped[list[str]] = mapped_column(JSON)
    notified_at: Mapped[datetime | None]
    channel: Mapped[str | None] = mapped_column(String(32))


class ReportRow(Base):
    """A generated report, kept at least 3 years (PIPL Art. 56): the database refuses to delete a
    row before its ``keep_until`` (a trigger, migration ``ops_0002``)."""

    __tablename__ = "ops_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    sha256: Mapped[str] = mapped_column(String(64))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    keep_until: Mapped[datetime]
