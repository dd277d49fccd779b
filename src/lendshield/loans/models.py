"""The minimal mirror of loan state that the lender's loan system pushes to LendShield."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Integer, Numeric, String
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
