"""Tables of the consent domain: published notices and the append-only consent ledger."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lendshield.db.base import Base


class NoticeRow(Base):
    """A privacy notice exactly as shown (PIPL Art. 17), with the hash consents point at."""

    __tablename__ = "consent_notices"

    version: Mapped[str] = mapped_column(String(32), primary_key=True)
    text_zh: Mapped[str] = mapped_column(Text)
    text_en: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    purpose_fields: Mapped[dict[str, Any]] = mapped_column(JSON)
    """{purpose: [fields]} as this version of the notice told the person."""
    published_at: Mapped[datetime]
    published_by: Mapped[str] = mapped_column(String(36))
    scope: Mapped[str] = mapped_column(String(16), default="general", server_default="general")
    """``general`` (the privacy notice of the whole service) or one purpose's own notice (``device``)."""


class ConsentRow(Base):
    """One grant, refusal, withdrawal or prompt; never updated (the latest row is the state)."""

    __tablename__ = "consent_records"
    __table_args__ = (Index("ix_consent_records_subject_purpose_kind", "subject_id", "purpose", "kind", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"))
    purpose: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(24))  # purpose | third_party | public_disclosure | sensitive | cross_border
    action: Mapped[str] = mapped_column(String(16))  # grant | refuse | withdraw | prompt
    notice_version: Mapped[str] = mapped_column(ForeignKey("consent_notices.version"))
    channel: Mapped[str] = mapped_column(String(32))
    by_guardian: Mapped[bool] = mapped_column(Boolean, default=False)
    evidence_sha256: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime]
    recorded_by: Mapped[str] = mapped_column(String(36))
