"""The telephony/SMS adapter seam, and the built-in outbox adapter of the embedded default.

LendShield never gives a collector the borrower's number: it asks an adapter to bridge a call or
send a message. A real deployment plugs in its provider's privacy-number (AXB) API here (see
``docs/collection.md``); the outbox adapter records what would have been sent, sealed, in the
database, so the demo and the tests run end to end with nothing outside the process.

Adapters receive the session so that an outbox write commits, or rolls back, with the contact
record and its ledger entry; network adapters ignore it.
"""

from __future__ import annotations

import importlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from lendshield.collection.models import OutboxRow
from lendshield.errors import ConfigurationError
from lendshield.runtime import Runtime
from lendshield.subjects.records import open_record, seal_record


@dataclass(frozen=True, slots=True)
class Delivery:
    provider_ref: str
    status: str  # "sent" | "bridged" | "queued"


class ContactAdapter(Protocol):
    """What a provider must do. ``to_e164`` is the real number; it must never be logged."""

    def send_message(self, session: Session, *, message_id: str, subject_id: str, to_e164: str, text: str) -> Delivery: ...

    def bridge_call(self, session: Session, *, call_id: str, subject_id: str, to_e164: str, caller: str) -> Delivery: ...


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    id: str
    kind: str
    subject_id: str
    to_e164: str
    text: str
    created_at: datetime


class OutboxAdapter:
    """Records each message or call in ``collection_outbox``; number and text sealed under the person's key."""

    def __init__(self, rt: Runtime) -> None:
        self._rt = rt

    def _record(self, session: Session, kind: str, ref: str, subject_id: str, payload: dict[str, str]) -> Delivery:
        sealed = seal_record(session, self._rt, subject_id, f"outbox:{ref}", json.dumps(payload, ensure_ascii=False).encode())
        session.add(OutboxRow(id=ref, kind=kind, subject_id=subject_id, sealed=sealed, created_at=self._rt.clock.now()))
        return Delivery(provider_ref=f"outbox:{ref}", status="sent" if kind == "sms" else "bridged")

    def send_message(self, session: Session, *, message_id: str, subject_id: str, to_e164: str, text: str) -> Delivery:
        return self._record(session, "sms", message_id, subject_id, {"to": to_e164, "text": text})

    def bridge_call(self, session: Session, *, call_id: str, subject_id: str, to_e164: str, caller: str) -> Delivery:
        return self._record(session, "call", call_id, subject_id, {"to": to_e164, "text": "", "caller": caller})


def read_outbox(session: Session, rt: Runtime, subject_id: str) -> list[OutboxMessage]:
    """What the outbox delivered to one person, oldest first (the demo's stand-in for their phone)."""
    rows = session.scalars(select(OutboxRow).where(OutboxRow.subject_id == subject_id).order_by(OutboxRow.created_at, OutboxRow.id))
    return [_opened(session, rt, row) for row in rows]


def _opened(session: Session, rt: Runtime, row: OutboxRow) -> OutboxMessage:
    payload = json.loads(open_record(session, rt, row.subject_id, f"outbox:{row.id}", row.sealed))
    return OutboxMessage(row.id, row.kind, row.subject_id, payload["to"], payload["text"], row.created_at)


def make_adapter(rt: Runtime) -> ContactAdapter:
    """The adapter named by settings: ``outbox`` or ``package.module:factory`` (called with the runtime)."""
    name = rt.settings.collection_adapter
    if name == "outbox":
        return OutboxAdapter(rt)
    module, _, factory = name.partition(":")
    if not module or not factory:
        raise ConfigurationError("LENDSHIELD_COLLECTION_ADAPTER must be 'outbox' or 'module:factory'")
    try:
        adapter: ContactAdapter = getattr(importlib.import_module(module), factory)(rt)
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError("the configured collection adapter cannot be loaded") from exc
    return adapter


def new_id() -> str:
    return str(uuid.uuid4())


def recent_outbox(session: Session, rt: Runtime, limit: int) -> list[OutboxMessage]:
    """The newest messages the outbox adapter delivered, newest first (the demo's stand-in for phones)."""
    rows = session.scalars(select(OutboxRow).order_by(OutboxRow.created_at.desc(), OutboxRow.id).limit(limit))
    return [_opened(session, rt, row) for row in rows]
