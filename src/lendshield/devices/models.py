"""Financed devices, lock/restrict requests with their approvals, and issued commands."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lendshield.db.base import Base


class DeviceRow(Base):
    __tablename__ = "devices"
    __table_args__ = (CheckConstraint("state IN ('active', 'restricted', 'locked', 'released')", name="state"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    loan_id: Mapped[str] = mapped_column(ForeignKey("loans.id"), index=True)
    borrower_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), index=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    """The device's own Ed25519 key, generated on the device; signs check-ins and acknowledgements."""
    state: Mapped[str] = mapped_column(String(16), default="active")
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    notice_version: Mapped[str] = mapped_column(String(32))
    """The device notice the borrower consented to when the phone was enrolled."""
    imei_version: Mapped[int | None] = mapped_column(Integer)
    """Which version of the borrower's ``device_imei`` vault field is this phone's IMEI (never the IMEI)."""
    enrolled_at: Mapped[datetime]


class CommandRequestRow(Base):
    """A maker's request to lock or restrict, waiting for checkers (maker-checker)."""

    __tablename__ = "device_requests"
    __table_args__ = (CheckConstraint("status IN ('pending', 'approved', 'denied', 'expired', 'issued')", name="status"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"), index=True)
    command: Mapped[str] = mapped_column(String(16))
    reason_code: Mapped[str] = mapped_column(String(32))
    reason_text: Mapped[str] = mapped_column(String(1000))
    requested_by: Mapped[str] = mapped_column(String(36))
    requested_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    decided_at: Mapped[datetime | None]


class ApprovalRow(Base):
    __tablename__ = "device_approvals"
    __table_args__ = (UniqueConstraint("request_id", "approver_id"), UniqueConstraint("request_id", "role"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("device_requests.id"), index=True)
    approver_id: Mapped[str] = mapped_column(String(36))
    role: Mapped[str] = mapped_column(String(64))
    decision: Mapped[str] = mapped_column(String(8))  # approve | deny
    reason: Mapped[str] = mapped_column(String(1000))
    at: Mapped[datetime]
    digest: Mapped[str] = mapped_column(String(64))


class CommandRow(Base):
    __tablename__ = "device_commands"
    __table_args__ = (UniqueConstraint("device_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    command: Mapped[str] = mapped_column(String(16))
    request_id: Mapped[str | None] = mapped_column(String(36))
    final_notice: Mapped[bool] = mapped_column(Boolean, default=False)
    token: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    ledger_seq: Mapped[int] = mapped_column(Integer)
    acked_at: Mapped[datetime | None]
    ack_token: Mapped[str | None] = mapped_column(Text)
