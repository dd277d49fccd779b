"""Records of backups and restore drills (no key material, no personal data)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Integer, String
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
