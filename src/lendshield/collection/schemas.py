"""Input and output of the collection API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from lendshield.api_models import Strict

LoanId = Annotated[str, Field(min_length=1, max_length=64)]
Id36 = Annotated[str, Field(min_length=1, max_length=36)]


class ContactIn(Strict):
    loan_id: LoanId
    channel: Literal["call", "sms"]
    target_id: Id36 | None = Field(default=None, description="the borrower (default) or one of their linked contacts")
    text: Annotated[str, Field(max_length=1000)] | None = None


class ContactOut(BaseModel):
    id: str
    outcome: str
    masked_to: str
    verification_code: str | None = Field(description="for calls and visits: the code the collector gives the person")
    text_sha256: str | None
    ledger_seq: int


class VisitIn(Strict):
    loan_id: LoanId
    participants: Annotated[list[Id36], Field(min_length=1, max_length=10)]
    notes: Annotated[str, Field(max_length=1000)] = ""


class AssignedLoanOut(BaseModel):
    id: str
    overdue_days: int


class TargetOut(BaseModel):
    id: str
    role: str
    relation: str
    masked_mobile: str | None


class ScreenIn(Strict):
    text: Annotated[str, Field(min_length=1, max_length=1000)]
    audience: Literal["debtor", "third_party"] = "debtor"


class HitOut(BaseModel):
    rule_id: str
    category: str
    start: int
    end: int
    text: str


class ScreenOut(BaseModel):
    allowed: bool
    hits: list[HitOut]


class RecordOut(BaseModel):
    id: str
    loan_id: str
    channel: str
    target_role: str
    outcome: str
    rule_id: str | None
    reason: str | None
    next_allowed_at: datetime | None
    collector_id: str
    participants: list[str]
    duration_s: int | None
    text_sha256: str | None
    ledger_seq: int | None
    created_at: datetime


class OutcomeIn(Strict):
    contact_id: Id36
    outcome: Literal["connected", "unanswered", "failed"]
    duration_s: Annotated[int, Field(ge=0, le=86_400)] = 0


class RecordingOut(BaseModel):
    id: str
    contact_id: str
    sha256: str
    size: int
    ledger_seq: int
    retain_until: datetime


class VerifyIn(Strict):
    code: Annotated[str, Field(min_length=1, max_length=32)]


class VerifyOut(BaseModel):
    genuine: bool
    channel: str | None
    at: datetime | None
    collector: str | None


class ComplaintIn(Strict):
    loan_id: LoanId
    kind: Literal["complaint", "dispute"] = "complaint"
    contact_id: Id36 | None = None
    text: Annotated[str, Field(min_length=1, max_length=4000)]


class ResolveIn(Strict):
    outcome: Annotated[str, Field(min_length=1, max_length=2000)]


class ComplaintOut(BaseModel):
    id: str
    kind: str
    loan_id: str
    contact_id: str | None
    status: str
    text: str | None
    outcome: str | None
    opened_at: datetime
    resolved_at: datetime | None


class PreferenceIn(Strict):
    channels: Annotated[list[Literal["call", "sms", "visit"]], Field(max_length=3)]


class PreferenceOut(BaseModel):
    channels: list[str]
