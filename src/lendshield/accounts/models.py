"""Accounts (staff and borrowers), their sessions and login attempts.

Staff accounts map to a principal (and so to roles); borrower accounts map to a data subject.
Secrets are stored only as argon2id hashes (passwords, recovery codes), SHA-256 digests
(session tokens) or sealed ciphertext (TOTP seeds).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from lendshield.db.base import Base


class AccountRow(Base):
    __tablename__ = "accounts"
    __table_args__ = (
        CheckConstraint("kind IN ('staff', 'borrower')", name="kind"),
        CheckConstraint("(kind = 'staff') = (principal_id IS NOT NULL)", name="staff_has_principal"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    login_digest: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    """Keyed digest of the login (user name, or phone in E.164): lookup without storing it."""
    principal_id: Mapped[str | None] = mapped_column(ForeignKey("principals.id"), index=True)
    subject_id: Mapped[str | None] = mapped_column(ForeignKey("subjects.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    totp_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    totp_last_step: Mapped[int] = mapped_column(Integer, default=0)
    recovery_hashes: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    password_changed_at: Mapped[datetime]


class SessionRow(Base):
    __tablename__ = "account_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    """SHA-256 (hex) of the session token; the token itself lives only in the cookie."""
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    csrf_digest: Mapped[bytes] = mapped_column(LargeBinary(32))


class LoginAttemptRow(Base):
    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(80))
    """``account:<digest>`` or ``addr:<digest>``: throttling keys never hold the login or address."""
    at: Mapped[datetime]
    success: Mapped[bool] = mapped_column(Boolean)


class OneTimeCodeRow(Base):
    """A one-time code sent to a borrower's phone: sign-in, registration or password reset.

    Only a keyed digest of the code is stored, bound to this challenge's id, with an expiry, an
    attempt count and the moment it was used (single use). A challenge for a number we do not
    know has no account and no subject: it exists so that the next step looks the same (no
    account oracle), and no code for it was ever sent.
    """

    __tablename__ = "account_codes"
    __table_args__ = (
        CheckConstraint("purpose IN ('sign_in', 'register', 'reset')", name="purpose"),
        CheckConstraint("attempts >= 0", name="attempts"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    """SHA-256 (hex) of the challenge token; the token itself lives only in the person's cookie."""
    purpose: Mapped[str] = mapped_column(String(16))
    account_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    subject_id: Mapped[str | None] = mapped_column(ForeignKey("subjects.id"), index=True)
    login_digest: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    """Keyed digest of the number the code went to (registration needs it; never the number)."""
    code_digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[datetime | None]
