"""The minimal mirror of loan state that the lender's loan system pushes to LendShield."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from lendshield.db.base import Base


class LoanRow(Base):
    __tablename__ = "loans"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the loan system's own id
    borrower_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), index=True)
    principal_amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    status: Mapped[str] = mapped_column(String(16), default="current")  # current | overdue | paid_off
    overdue_days: Mapped[int] = mapped_column(Integer, default=0)
    assigned_collector_id: Mapped[str | None] = mapped_column(String(36), index=True)
    synthetic: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class LoanEventRow(Base):
    """Every event the loan system pushed, keyed by its idempotency key (a replay changes nothing)."""

    __tablename__ = "loan_events"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    loan_id: Mapped[str] = mapped_column(ForeignKey("loans.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    payload_sha256: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime]


class LoanDeviceRow(Base):
    """A device financed by a loan, by the lender's asset id (never the IMEI: that is personal data)."""

    __tablename__ = "loan_devices"

    loan_id: Mapped[str] = mapped_column(ForeignKey("loans.id"), primary_key=True)
    asset_id: Mapped[str] = mapped_column(String(64))
    financed_at: Mapped[datetime]
