"""Reading the ledger, never writing it.

Only ``ledger`` may import its ORM models (an import contract), so the watch reads the
``ledger_entries`` table through a Core description of the columns it needs. The watch follows
the log after the fact: it sees every path that writes an entry and adds nothing to a read.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, String, Text, column, func, or_, select, table
from sqlalchemy.orm import Session

from lendshield.db.base import UTCDateTime

_ENTRIES = table(
    "ledger_entries",
    column("seq", BigInteger()),
    column("time", UTCDateTime()),
    column("actor", String(64)),
    column("action", String(64)),
    column("subject_ref", String(64)),
    column("body", Text()),
    column("details", JSON()),
)
_COLUMNS = (
    _ENTRIES.c.seq,
    _ENTRIES.c.time,
    _ENTRIES.c.actor,
    _ENTRIES.c.action,
    _ENTRIES.c.subject_ref,
    _ENTRIES.c.body,
    _ENTRIES.c.details,
)


@dataclass(frozen=True, slots=True)
class Record:
    """One ledger entry as the watch sees it (the body's fields that rules need)."""

    seq: int
    time: datetime
    actor: str
    action: str
    subject_ref: str | None
    object: str
    purpose: str | None
    decision: str | None
    rule_id: str | None
    reason: str | None
    details: dict[str, Any]


def _record(row: Any) -> Record:
    seq, when, actor, action, subject_ref, body, details = row
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = {}  # the audit reports a damaged body; the watch still sees the columns
    if not isinstance(parsed, dict):
        parsed = {}

    def text(key: str) -> str | None:
        value = parsed.get(key)
        return value if isinstance(value, str) else None

    return Record(
        seq=int(seq),
        time=when,
        actor=actor,
        action=action,
        subject_ref=subject_ref,
        object=text("object") or "",
        purpose=text("purpose"),
        decision=text("decision"),
        rule_id=text("rule_id"),
        reason=text("reason"),
        details=details if isinstance(details, dict) else {},
    )


def head(session: Session) -> int:
    """The highest sequence number written so far (-1 for an empty log)."""
    value = session.scalar(select(func.max(_ENTRIES.c.seq)))
    return -1 if value is None else int(value)


def after(session: Session, seq: int, limit: int) -> list[Record]:
    """Entries with a sequence number above ``seq``, in order, at most ``limit``."""
    rows = session.execute(select(*_COLUMNS).where(_ENTRIES.c.seq > seq).order_by(_ENTRIES.c.seq).limit(limit))
    return [_record(r) for r in rows]


def _like(pattern: str) -> str | None:
    """An fnmatch pattern as SQL LIKE (escape ``\\``); None for character classes LIKE lacks."""
    if "[" in pattern:
        return None
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%").replace("?", "_")


def for_actors(session: Session, actors: Iterable[str], since: datetime, up_to_seq: int, actions: Sequence[str]) -> list[Record]:
    """Entries of these actors from ``since`` up to ``up_to_seq`` whose action may match one of
    ``actions`` (fnmatch; the caller matches exactly): the history a sliding window needs."""
    wanted = sorted(set(actors))
    likes = [_like(p) for p in actions]
    action_filter = None if None in likes or not likes else or_(*(_ENTRIES.c.action.like(p, escape="\\") for p in likes if p))
    out: list[Record] = []
    for start in range(0, len(wanted), 500):
        query = select(*_COLUMNS).where(
            _ENTRIES.c.actor.in_(wanted[start : start + 500]), _ENTRIES.c.time >= since, _ENTRIES.c.seq <= up_to_seq
        )
        if action_filter is not None:
            query = query.where(action_filter)
        out.extend(_record(r) for r in session.execute(query.order_by(_ENTRIES.c.seq)))
    return out


def by_seq(session: Session, seqs: Sequence[int]) -> list[Record]:
    if not seqs:
        return []
    rows = session.execute(select(*_COLUMNS).where(_ENTRIES.c.seq.in_(list(seqs))).order_by(_ENTRIES.c.seq))
    return [_record(r) for r in rows]
