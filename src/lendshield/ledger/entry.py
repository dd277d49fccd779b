"""Ledger entries: canonical JSON (RFC 8785) with no personal data in clear."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import rfc8785


def rfc3339(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(obj: Any) -> bytes:
    return rfc8785.dumps(obj)


def digest_of(obj: Any) -> str:
    """Hex SHA-256 of the canonical JSON of ``obj``."""
    return hashlib.sha256(canonical(obj)).hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    """What happened. ``subject_ref`` is a keyed hash (see ``ledger.refs``), never a subject id.

    ``details`` is kept beside the entry; only its digest is part of the logged leaf, so it may
    be shown to whom it concerns while the tree stays publishable. Never put personal data in it.
    """

    time: datetime
    actor: str
    action: str
    object: str = ""
    subject_ref: str | None = None
    purpose: str | None = None
    decision: str | None = None
    rule_id: str | None = None
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def body(self, seq: int) -> dict[str, Any]:
        body: dict[str, Any] = {
            "v": 1,
            "seq": seq,
            "time": rfc3339(self.time),
            "actor": self.actor,
            "action": self.action,
            "object": self.object,
        }
        for key in ("subject_ref", "purpose", "decision", "rule_id", "reason"):
            value = getattr(self, key)
            if value is not None:
                body[key] = value
        if self.details:
            body["details_digest"] = digest_of(self.details)
        return body


def leaf_hash(body_bytes: bytes) -> bytes:
    """RFC 9162 §2.1.1: MTH of one entry is SHA-256(0x00 || entry)."""
    return hashlib.sha256(b"\x00" + body_bytes).digest()
