"""Input and output of the watch's HTTP routes (no personal value in any of them)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Severity = Literal["low", "medium", "high"]
Status = Literal["open", "acknowledged", "resolved"]
Note = Annotated[str, Field(min_length=1, max_length=2000)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NoteIn(_In):
    note: Note


class CanariesIn(_In):
    count: Annotated[int, Field(ge=1, le=200)]
    label: Annotated[str, Field(min_length=1, max_length=120)] = "canary"


class CanaryOut(BaseModel):
    subject_id: str
    label: str
    created_at: datetime
    registered_seq: int


class AlertOut(BaseModel):
    id: int
    rule_id: str
    severity: Severity
    status: Status
    actor: str
    title: str
    measure: int
    threshold: int
    trigger_count: int
    first_seen: datetime
    last_seen: datetime
    created_at: datetime
    updated_at: datetime
    facts: dict[str, Any]


class AlertPage(BaseModel):
    items: list[AlertOut]
    next_cursor: str | None


class EntryOut(BaseModel):
    """A triggering ledger entry as the log holds it: a keyed subject reference, never an id."""

    seq: int
    time: datetime
    actor: str
    action: str
    object: str
    subject_ref: str | None
    purpose: str | None
    decision: str | None
    rule_id: str | None
    reason: str | None


class NoteOut(BaseModel):
    at: datetime
    by: str
    from_status: Status
    to_status: Status
    note: str
    ledger_seq: int


DeliveryStatus = Literal["pending", "delivered", "failed"]


class DeliveryOut(BaseModel):
    """One outbox row: an alert event sent (or to be sent) to the protection officer by one channel."""

    id: int
    alert_id: int
    event: Literal["raised", "reopened"]
    channel: Literal["webhook", "email"]
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    """When the next attempt is due (pending only)."""
    last_attempt_at: datetime | None
    delivered_at: datetime | None
    last_error: str | None
    """The kind of the last failure: ``HTTP 500``, ``SMTP 550``, ``ConnectError`` ..."""
    created_at: datetime


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]


class AlertDetailOut(AlertOut):
    seqs: list[int]
    """Sequence numbers of the triggering ledger entries (the first 500; ``trigger_count`` has all)."""
    entries: list[EntryOut]
    notes: list[NoteOut]
    deliveries: list[DeliveryOut]


class RunOut(BaseModel):
    processed: int
    alerts_raised: int
    cursor: int
