"""Input and output of the transfers API (pydantic; unknown keys are refused)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from lendshield.api_models import Strict, View
from lendshield.transfers.models import RecipientRow
from lendshield.transfers.recipients import RecipientDraft
from lendshield.transfers.service import ExportRequest

Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]{0,63}$")]
SubjectId = Annotated[str, Field(min_length=1, max_length=36)]


class RecipientIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    kind: Literal["third_party", "entrusted_processor"]
    region: Annotated[str, Field(min_length=2, max_length=2, description="ISO 3166-1 alpha-2; anything but CN is abroad")]
    contact: Annotated[str, Field(min_length=1, max_length=300)]
    purposes: Annotated[list[Name], Field(min_length=1, max_length=32)]
    categories: Annotated[list[Name], Field(min_length=1, max_length=32)]
    contract_ref: Annotated[str, Field(min_length=1, max_length=200)]
    mechanism: Literal["security_assessment", "standard_contract", "certification", "exemption"] | None = None
    mechanism_evidence: Annotated[str, Field(min_length=1, max_length=300)] | None = None
    mechanism_valid_from: date | None = None
    mechanism_valid_until: date | None = None

    def draft(self) -> RecipientDraft:
        return RecipientDraft(**self.model_dump())


class RecipientOut(BaseModel):
    id: str
    name: str
    kind: str
    region: str
    abroad: bool
    contact: str
    purposes: list[str]
    categories: list[str]
    contract_ref: str
    mechanism: str | None
    mechanism_evidence: str | None
    mechanism_valid_from: date | None
    mechanism_valid_until: date | None
    status: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: RecipientRow, home_region: str) -> RecipientOut:
        return cls(
            id=row.id,
            name=row.name,
            kind=row.kind,
            region=row.region,
            abroad=row.region != home_region,
            contact=row.contact,
            purposes=list(row.purposes),
            categories=list(row.categories),
            contract_ref=row.contract_ref,
            mechanism=row.mechanism,
            mechanism_evidence=row.mechanism_evidence,
            mechanism_valid_from=row.mechanism_valid_from,
            mechanism_valid_until=row.mechanism_valid_until,
            status=row.status,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class ExportIn(Strict):
    purpose: Name
    subject_ids: Annotated[list[SubjectId], Field(min_length=1, max_length=50_000)]
    fields: Annotated[list[Name], Field(min_length=1, max_length=32)]
    format: Literal["csv", "jsonl", "xlsx"] = "csv"
    clear: bool = False
    reason: Annotated[str, Field(min_length=1, max_length=500)] | None = None

    def request(self) -> ExportRequest:
        return ExportRequest(
            purpose=self.purpose, subject_ids=self.subject_ids, fields=self.fields, format=self.format, clear=self.clear, reason=self.reason
        )


class ProvisionIn(ExportIn):
    recipient_id: Annotated[str, Field(min_length=1, max_length=36)]


class FailureOut(View):
    condition: str
    people: int
    detail: str


class GateAnswerOut(View):
    allowed: bool
    failures: list[FailureOut]
    abroad: bool
    year: int | None
    people_after: int | None
    sensitive_after: int | None
    tier: str | None


class ExportOut(View):
    id: str
    kind: str
    made_by: str
    purpose: str
    recipient_id: str | None
    format: str
    fields: list[str]
    people: int
    canaries: int
    file_sha256: str
    created_at: datetime


class ReceiptOut(View):
    provision_id: str
    recipient_id: str
    recipient_name: str
    recipient_kind: str
    region: str
    contact: str
    purpose: str
    fields: list[str]
    provided_at: datetime


class CandidateOut(View):
    export_id: str
    kind: str
    made_by: str
    made_by_name: str
    recipient_id: str | None
    recipient_name: str | None
    created_at: datetime
    purpose: str
    fields: list[str]
    people: int
    rows_matched: int
    values_matched: int
    canaries_matched: int
    row_refs_matched: int
    pinned: bool
    covers_all: bool


class TraceOut(View):
    verdict: str
    rows_read: int
    rows_matched: int
    candidates: list[CandidateOut]
    ledger_seq: int
