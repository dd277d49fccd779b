"""HTTP shapes of the vault. Unknown fields are refused (extra='forbid')."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

FieldName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]
FieldValue = Annotated[str, Field(min_length=1, max_length=1000)]
Reason = Annotated[str, Field(min_length=1, max_length=500)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ContactIn(Strict):
    relation: Annotated[str, Field(min_length=1, max_length=32)]
    fields: dict[FieldName, FieldValue] = Field(min_length=1, max_length=32)


class SubjectIn(Strict):
    kind: Literal["borrower", "contact"] = "borrower"
    fields: dict[FieldName, FieldValue] = Field(min_length=1, max_length=32)
    contacts: list[ContactIn] = Field(default_factory=list, max_length=10)
    timezone: Annotated[str, Field(max_length=64)] = "Asia/Shanghai"


class SubjectCreated(BaseModel):
    id: str
    contact_ids: list[str]


class FieldOut(BaseModel):
    value: str
    shown: Literal["clear", "mask"]
    rule_id: str
    version: int


class DeniedOut(BaseModel):
    rule_id: str
    reason: str


class SubjectOut(BaseModel):
    id: str
    kind: str
    fields: dict[str, FieldOut]
    denied: dict[str, DeniedOut]
    ledger_seq: int


class ReadIn(Strict):
    fields: list[FieldName] | None = Field(default=None, max_length=64)
    clear: bool = False
    reason: Reason | None = None


class CorrectionIn(Strict):
    value: FieldValue
    reason: Reason


class CorrectionOut(BaseModel):
    field: str
    version: int


class LookupIn(Strict):
    field: FieldName
    value: FieldValue


class LookupOut(BaseModel):
    subject_ids: list[str]


class TokenizeIn(Strict):
    field: FieldName


class TokenOut(BaseModel):
    token: str


class DetokenizeIn(Strict):
    token: Annotated[str, Field(min_length=4, max_length=64)]
    clear: bool = False
    reason: Reason | None = None


class DetokenizedOut(BaseModel):
    subject_id: str
    field: str
    value: FieldOut


class ShredIn(Strict):
    reason: Reason
