"""Ledger entries: canonical JSON (RFC 8785) with no personal data in clear."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any

import rfc8785


def rfc3339(when: datetime) -> str:
    utc = when.astimezone(UTC)
    if utc.year >= 1000:
        # Same characters as the strftime below (isoformat pads the year to 4 digits, strftime
        # does not on every platform), at a fraction of the cost: every ledger entry has a time.
        return utc.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
    return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_MAX_EXACT_INT = 2**53


def _plain(obj: Any) -> bool:
    """True when ``json.dumps`` with sorted keys produces exactly RFC 8785's bytes for ``obj``:
    no floats, integers within IEEE-754's exact range, and ASCII object keys (RFC 8785 sorts by
    UTF-16 code units, Python by code points; the two agree on ASCII).

    A loop over a stack rather than recursion: every ledger entry's details pass through here."""
    stack = [obj]
    while stack:
        item = stack.pop()
        if item is None or isinstance(item, bool | str):
            continue
        if isinstance(item, int):
            if not -_MAX_EXACT_INT < item < _MAX_EXACT_INT:
                return False
        elif isinstance(item, dict):
            for key, value in item.items():
                if not (isinstance(key, str) and key.isascii()):
                    return False
                if type(value) is not str:
                    stack.append(value)
        elif isinstance(item, list | tuple):
            stack.extend(v for v in item if type(v) is not str)
        else:
            return False
    return True


def canonical(obj: Any) -> bytes:
    """RFC 8785 canonical JSON. Entries are plain (strings, small integers, ASCII keys), for which
    the standard library's sorted, compact, non-ASCII-preserving output is byte-identical and much
    faster; anything else goes through the full RFC 8785 implementation."""
    if _plain(obj):
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return rfc8785.dumps(obj)


def digest_of(obj: Any) -> str:
    """Hex SHA-256 of the canonical JSON of ``obj``."""
    return hashlib.sha256(canonical(obj)).hexdigest()


class Details(dict[str, Any]):
    """Entry details whose digest is computed once, for details many entries share (a read's
    decisions repeat for every read of the same fields by the same roles). Never mutate one."""

    __slots__ = ("digest", "json")

    def __init__(self, items: dict[str, Any]) -> None:
        super().__init__(items)
        self.digest = digest_of(items)
        self.json = json.dumps(items)  # as SQLAlchemy's JSON type would store it on SQLite


def _digest_of_details(details: dict[str, Any]) -> str:
    return details.digest if type(details) is Details else digest_of(details)


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
            body["details_digest"] = _digest_of_details(self.details)
        return body

    def canonical(self, seq: int) -> bytes:
        """``canonical_body(self.body(seq))``, written out directly in RFC 8785 key order.

        Every request appends an entry; building the dict and sorting it costs more than the
        string itself. The strings are quoted by ``json``'s own function, so the bytes are those of
        ``canonical_body`` (tests/ledger checks both against RFC 8785); anything unusual (a value
        that is not a string, a sequence number beyond 2**53) takes the general path.
        """
        around = self.canonical_around_seq() if 0 <= seq < _MAX_EXACT_INT else None
        if around is None:
            return canonical_body(self.body(seq))
        return (around[0] + str(seq) + around[1]).encode()

    def canonical_around_seq(self) -> tuple[str, str] | None:
        """The canonical body as the text before and after its sequence number, whose decimal
        digits go between (for any ``0 <= seq < 2**53``); None when the entry needs the general
        path. PostgreSQL's append puts the number in itself (``ledger.service``)."""
        optional = (self.decision, self.purpose, self.reason, self.rule_id, self.subject_ref)
        texts = (self.action, self.actor, self.object, *(v for v in optional if v is not None))
        if any(type(v) is not str for v in texts):
            return None
        q = encode_basestring
        parts = ['{"action":', q(self.action), ',"actor":', q(self.actor)]
        if self.decision is not None:
            parts += (',"decision":', q(self.decision))
        if self.details:
            parts += (',"details_digest":"', _digest_of_details(self.details), '"')
        parts += (',"object":', q(self.object))
        if self.purpose is not None:
            parts += (',"purpose":', q(self.purpose))
        if self.reason is not None:
            parts += (',"reason":', q(self.reason))
        if self.rule_id is not None:
            parts += (',"rule_id":', q(self.rule_id))
        parts.append(',"seq":')
        after = [',"subject_ref":', q(self.subject_ref)] if self.subject_ref is not None else []
        after += (',"time":"', rfc3339(self.time), '","v":1}')
        return "".join(parts), "".join(after)


def canonical_body(body: dict[str, Any]) -> bytes:
    """Canonical bytes of an entry body built by ``Entry.body``: ASCII keys, string values and a
    sequence number below 2**53 by construction, so the plain check can be skipped."""
    if not 0 <= body["seq"] < _MAX_EXACT_INT:
        return rfc8785.dumps(body)
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def leaf_hash(body_bytes: bytes) -> bytes:
    """RFC 9162 §2.1.1: MTH of one entry is SHA-256(0x00 || entry)."""
    return hashlib.sha256(b"\x00" + body_bytes).digest()
