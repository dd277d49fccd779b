"""Leak tracing: which export(s) a file that surfaced came from, with the evidence.

Every cell of the file is normalised and digested as exports were (``fingerprint``). A row of
the file counts for an export when enough of its values match one row of that export; canary
values and row references match exactly one export and so pin it. Nothing of the file is kept:
the ledger records only counts and the exports named.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from lendshield import ledger
from lendshield.errors import Forbidden, InvalidInput, NotFound
from lendshield.principals import Principal
from lendshield.principals import service as principals
from lendshield.runtime import Runtime
from lendshield.transfers import config, formats
from lendshield.transfers.fingerprint import Marker, normalise
from lendshield.transfers.models import ExportRow, MarkRow, RecipientRow

_CHUNK = 500


@dataclass(frozen=True, slots=True, kw_only=True)
class Candidate:
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
    """A canary or a row reference of this export is in the file: it came from this export."""
    covers_all: bool
    """Every matched row of the file is a row of this export."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TraceReport:
    rows_read: int
    rows_matched: int
    verdict: str
    candidates: list[Candidate] = field(default_factory=list)
    ledger_seq: int = -1


@dataclass(slots=True)
class _Tally:
    rows: int = 0
    values: int = 0
    canaries: set[int] = field(default_factory=set)
    row_refs: set[int] = field(default_factory=set)


def _hits(session: Session, digests: set[bytes]) -> dict[bytes, list[tuple[str, int, str]]]:
    found: dict[bytes, list[tuple[str, int, str]]] = defaultdict(list)
    ordered = sorted(digests)
    for i in range(0, len(ordered), _CHUNK):
        chunk = ordered[i : i + _CHUNK]
        for export_id, slot, kind, digest in session.execute(
            select(MarkRow.export_id, MarkRow.slot, MarkRow.kind, MarkRow.digest).where(MarkRow.digest.in_(chunk))
        ):
            found[bytes(digest)].append((export_id, slot, kind))
    return found


def _tally(
    rows: Sequence[tuple[set[bytes], set[bytes]]], hits: dict[bytes, list[tuple[str, int, str]]], min_values: int
) -> tuple[dict[str, _Tally], int]:
    tallies: dict[str, _Tally] = defaultdict(_Tally)
    matched_rows = 0
    for digests, strong in rows:
        per_slot: Counter[tuple[str, int]] = Counter()
        canary_slots: set[tuple[str, int]] = set()
        for digest in digests:
            for export_id, slot, kind in hits.get(digest, ()):
                per_slot[(export_id, slot)] += 1
                tally = tallies[export_id]
                if kind == "rowref":
                    tally.row_refs.add(slot)
                    continue
                tally.values += 1
                if kind == "canary":
                    tally.canaries.add(slot)  # distinctive on its own
                elif kind == "weak":
                    canary_slots.add((export_id, slot))
        # Words around the values (a chat line, a note) do not raise the bar; one value alone is
        # enough only when it names a person by itself (a number, an ID), never a name or an amount.
        hitting = [d for d in digests if d in hits]
        need = min_values if len(hitting) >= min_values or not any(d in strong for d in hitting) else 1
        matched = {key for key, n in per_slot.items() if n >= need}
        for export_id, slot in matched & canary_slots:
            tallies[export_id].canaries.add(slot)  # enough of one canary row's weak values together
        exports = {export_id for export_id, _slot in matched}
        if exports:
            matched_rows += 1
            for export_id in exports:
                tallies[export_id].rows += 1
    return tallies, matched_rows


def _verdict(candidates: list[Candidate]) -> str:
    pinned = [c for c in candidates if c.pinned]
    if len(pinned) == 1:
        return "pinned"
    if pinned:
        return "pinned_several"  # the file combines rows of several exports
    covering = [c for c in candidates if c.covers_all]
    if len(covering) == 1:
        return "consistent"
    if covering:
        return "ambiguous"
    return "partial" if candidates else "no_match"


def _name(session: Session, principal_id: str) -> str:
    try:
        return principals.get_principal(session, principal_id).name
    except NotFound:
        return "(unknown principal)"


def canary_hits(session: Session, rt: Runtime, values: Iterable[str]) -> dict[str, str]:
    """Which of ``values`` belong to a canary identity of an export, and of which export.

    For the scanner and the insider watch: a canary value found anywhere is a leak of that export.
    """
    marker = Marker(rt)
    by_digest: dict[bytes, list[str]] = defaultdict(list)
    for value in values:
        norm = normalise(value)
        if norm is not None:
            by_digest[marker.digest(norm)].append(value)
    out: dict[str, str] = {}
    for digest, hits in _hits(session, set(by_digest)).items():
        for export_id, _slot, kind in hits:
            if kind == "canary":
                out.update(dict.fromkeys(by_digest[digest], export_id))
    return out


def trace(session: Session, rt: Runtime, who: Principal, data: bytes, filename: str = "") -> TraceReport:
    """Name the export(s) ``data`` came from; the trace itself is written to the ledger."""
    rules = config.load(rt.settings.policies_dir)
    if not who.roles & rules.trace_roles:
        raise Forbidden("this role may not trace leaked files")
    rows = formats.read_all(data, filename, rules.max_trace_rows)
    if len(rows) > rules.max_trace_rows:
        raise InvalidInput(f"the file has more than {rules.max_trace_rows} rows; trace a part of it")
    marker = Marker(rt)
    row_digests = [marker.row(r) for r in rows]
    hits = _hits(session, set().union(*(d for d, _strong in row_digests)) if row_digests else set())
    tallies, matched_rows = _tally(row_digests, hits, rules.fingerprint.min_values_per_row)
    candidates = []
    for export_id, t in tallies.items():
        if not (t.rows or t.canaries or t.row_refs):
            continue
        export = session.get(ExportRow, export_id)
        if export is None:
            continue
        recipient = session.get(RecipientRow, export.recipient_id) if export.recipient_id else None
        candidates.append(
            Candidate(
                export_id=export.id,
                kind=export.kind,
                made_by=export.made_by,
                made_by_name=_name(session, export.made_by),
                recipient_id=export.recipient_id,
                recipient_name=recipient.name if recipient else None,
                created_at=export.created_at,
                purpose=export.purpose,
                fields=list(export.fields),
                people=export.people,
                rows_matched=t.rows,
                values_matched=t.values,
                canaries_matched=len(t.canaries),
                row_refs_matched=len(t.row_refs),
                pinned=bool(t.canaries or t.row_refs),
                covers_all=matched_rows > 0 and t.rows == matched_rows,
            )
        )
    candidates.sort(key=lambda c: (not c.pinned, -c.rows_matched, -c.values_matched, c.created_at.timestamp() * -1))
    verdict = _verdict(candidates)
    seq = ledger.append(
        session,
        ledger.Entry(
            time=rt.clock.now(),
            actor=who.id,
            action="transfer.trace",
            object="trace:file",
            decision=verdict,
            details={
                "bytes": len(data),
                "rows_read": len(rows),
                "rows_matched": matched_rows,
                "exports": [c.export_id for c in candidates[:20]],
                "pinned": [c.export_id for c in candidates if c.pinned][:20],
            },
        ),
    )
    return TraceReport(rows_read=len(rows), rows_matched=matched_rows, verdict=verdict, candidates=candidates, ledger_seq=seq)
