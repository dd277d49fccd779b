"""Input and output of the rights API (pydantic; unknown input keys are refused)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from lendshield.api_models import Strict, View
from lendshield.rights.service import RequestView

Reason = Annotated[str, Field(min_length=10, max_length=1000)]
SubjectId = Annotated[str, Field(min_length=1, max_length=36)]
RequestType = Literal["access", "portability", "correction", "deletion", "withdrawal", "restriction", "explanation", "report"]


class FileIn(Strict):
    type: RequestType
    subject_id: SubjectId | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    text: Annotated[str, Field(max_length=4000)] | None = None
    new_value: Annotated[str, Field(max_length=500)] | None = None
    jurisdiction: Annotated[str, Field(max_length=8)] | None = None


class CodeIn(Strict):
    code: Annotated[str, Field(min_length=1, max_length=16)]


class AssignIn(Strict):
    owner_id: Annotated[str, Field(min_length=1, max_length=36)] | None = None


class ExtendIn(Strict):
    working_days: Annotated[int, Field(ge=1, le=60)]
    reason: Reason


class RefuseIn(Strict):
    reason: Reason


class FulfilIn(Strict):
    outcome: Annotated[str, Field(max_length=1000)] | None = None


class HoldIn(Strict):
    subject_id: SubjectId
    kind: Literal["legal_hold", "restriction"] = "legal_hold"
    reason: Reason
    ends_on: dt.date | None = None


class LiftIn(Strict):
    reason: Reason


class DecisionIn(Strict):
    subject_id: SubjectId
    system: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
    decision_type: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")]
    outcome: Annotated[str, Field(min_length=1, max_length=200)]
    input_categories: Annotated[list[Annotated[str, Field(max_length=64)]], Field(min_length=1, max_length=32)]
    logic_summary: Annotated[str, Field(min_length=20, max_length=2000)]
    solely_automated: bool = True
    made_at: dt.datetime | None = None


class RequestOut(BaseModel):
    id: str
    subject_id: str
    type: str
    status: str
    channel: str
    filed_at: dt.datetime
    verified: bool
    owner_id: str | None
    due_on: dt.date
    original_due_on: dt.date
    extension_reason: str | None
    deadline_estimated: bool
    deadline_note: str | None
    params: dict[str, Any]
    outcome: str | None
    refusal_reason: str | None
    answered_at: dt.datetime | None
    has_package: bool

    @classmethod
    def of(cls, v: RequestView) -> RequestOut:
        return cls(
            id=v.id,
            subject_id=v.subject_id,
            type=v.type,
            status=v.status,
            channel=v.channel,
            filed_at=v.filed_at,
            verified=v.verified,
            owner_id=v.owner_id,
            due_on=v.due_on,
            original_due_on=v.original_due_on,
            extension_reason=v.extension_reason,
            deadline_estimated=v.deadline_note is not None,
            deadline_note=v.deadline_note,
            params=v.params,
            outcome=v.outcome,
            refusal_reason=v.refusal_reason,
            answered_at=v.answered_at,
            has_package=v.has_package,
        )


class DecisionOut(View):
    id: str
    subject_id: str
    system: str
    decision_type: str
    outcome: str
    input_categories: list[str]
    logic_summary: str
    solely_automated: bool
    made_at: dt.datetime
    review_outcome: str | None
    reviewed_at: dt.datetime | None


class AlertOut(View):
    id: int
    kind: str
    request_id: str | None
    message: str
    created_at: dt.datetime
    acknowledged: bool


class HoldOut(BaseModel):
    id: str
    subject_id: str
    kind: str
    reason: str
    ends_on: dt.date | None
    lifted: bool


class OnTimeOut(BaseModel):
    start: dt.date
    end: dt.date
    answered: int
    on_time: int
    late: int
    open_overdue: int
    rate: float | None


class SweepActionOut(BaseModel):
    kind: str
    target: str
    reason: str


class SweepOut(BaseModel):
    dry_run: bool
    actions: list[SweepActionOut]
    codes_removed: int
