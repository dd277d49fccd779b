"""Appending: on both databases the stored body is exactly ``Entry.canonical(seq)`` and the leaf
hash is RFC 9162's SHA-256(0x00 || body), whichever path wrote it (PostgreSQL writes the number
into the body itself, in SQL; SQLite and the general path in Python)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from lendshield import ledger
from lendshield.ledger.entry import Details, canonical_body, leaf_hash
from lendshield.ledger.models import LedgerEntryRow
from lendshield.runtime import Runtime

ODD_TEXTS = ["plain", "说明：复核逾期", 'quote " and \\ backslash', "tab\tnew\nline\u0001", "emoji \U0001f512 and \u2028", ""]


def _entries(rt: Runtime) -> list[ledger.Entry]:
    when = datetime(2026, 12, 2, 1, 2, 3, 456789, tzinfo=UTC)
    out = []
    for i, value in enumerate(ODD_TEXTS):
        out.append(
            ledger.Entry(
                time=when,
                actor=f"actor-{i}",
                action="test.append",
                object=value,
                subject_ref=ledger.subject_ref(rt.keys, f"s{i}") if i % 2 else None,
                purpose="loan_servicing" if i % 3 else None,
                decision="allow",
                rule_id="r1",
                reason=value or None,
                details=Details({"n": i, "why": value}) if i % 2 else {"n": i},
            )
        )
    # The general path: a non-string value (never built by LendShield's callers, but allowed).
    out.append(ledger.Entry(time=when, actor="a", action="test.append", object="general", details={"x": 1}, reason=7))  # type: ignore[arg-type]
    return out


def test_stored_body_and_leaf_hash_are_those_of_the_canonical_entry(rt: Runtime) -> None:
    entries = _entries(rt)
    with rt.sessions() as s:
        seqs = [ledger.append(s, e) for e in entries]
        s.commit()
    assert seqs == list(range(seqs[0], seqs[0] + len(entries)))
    with rt.sessions() as s:
        rows = {r.seq: r for r in s.scalars(select(LedgerEntryRow).where(LedgerEntryRow.seq.in_(seqs)))}
    for seq, entry in zip(seqs, entries, strict=True):
        row = rows[seq]
        expected = entry.canonical(seq)
        assert expected == canonical_body(entry.body(seq))
        assert row.body.encode() == expected
        assert bytes(row.leaf_hash) == leaf_hash(expected)
        assert row.details == (entry.details or None)


@pytest.mark.parametrize("seq", [0, 9, 10, 99, 12345, 2**53 - 1])
def test_the_text_around_the_number_gives_the_canonical_body(rt: Runtime, seq: int) -> None:
    for entry in _entries(rt)[:-1]:
        around = entry.canonical_around_seq()
        assert around is not None
        assert (around[0] + str(seq) + around[1]).encode() == canonical_body(entry.body(seq))
    assert _entries(rt)[-1].canonical_around_seq() is None


def test_time_and_details_are_stored_as_the_column_types_store_them(rt: Runtime) -> None:
    """SQLite's append gives the time and a ``Details``' JSON as ready text (``_sqlite_forms``):
    it must be the text SQLAlchemy's own types write, or time comparisons and reads would drift."""
    from sqlalchemy import JSON, DateTime, text

    entries = _entries(rt)[:-1]
    with rt.sessions() as s:
        seqs = [ledger.append(s, e) for e in entries]
        s.commit()
    with rt.sessions() as s:
        dialect = s.get_bind().dialect
        stored = {r[0]: (r[1], r[2]) for r in s.execute(text("SELECT seq, time, details FROM ledger_entries"))}
        mapped = {r.seq: r for r in s.scalars(select(LedgerEntryRow).where(LedgerEntryRow.seq.in_(seqs)))}
    to_time = DateTime().dialect_impl(dialect).bind_processor(dialect)
    to_json = JSON().dialect_impl(dialect).bind_processor(dialect)
    for seq, entry in zip(seqs, entries, strict=True):
        assert mapped[seq].time.replace(tzinfo=None) == entry.time.replace(tzinfo=None)
        assert mapped[seq].details == dict(entry.details)
        if dialect.name == "sqlite":
            assert to_time is not None
            assert to_json is not None
            assert stored[seq] == (to_time(entry.time), to_json(dict(entry.details)))


def test_sqlite_date_and_time_parameters_are_written_as_the_types_write_them() -> None:
    """Prepared statements give SQLite's DATETIME and DATE their text by ``isoformat``
    (``ledger.prepared._sqlite_iso``): the same text as the types' own processors, for aware and
    naive times, with and without microseconds, dates, and years the fast path leaves alone."""
    from datetime import date, timedelta, timezone

    from sqlalchemy import Date, DateTime
    from sqlalchemy.dialects import sqlite

    from lendshield.ledger.prepared import _sqlite_iso

    dialect = sqlite.dialect()
    for type_, values in (
        (
            DateTime(),
            [
                datetime(2026, 12, 2, 1, 2, 3, 456789, tzinfo=UTC),
                datetime(2026, 12, 2, 1, 2, 3, tzinfo=timezone(timedelta(hours=8))),
                datetime(1999, 1, 1),
                datetime(999, 1, 1, 0, 0, 0, 1),
                date(2026, 1, 2),
                None,
            ],
        ),
        (Date(), [date(2026, 12, 2), date(1000, 1, 1), date(999, 12, 31), datetime(2026, 1, 2, 3, 4), None]),
    ):
        impl = type_.dialect_impl(dialect)
        own = impl.bind_processor(dialect)
        assert own is not None
        fast = _sqlite_iso(impl, own)
        assert fast is not own
        for value in values:
            assert fast(value) == own(value), value


def test_sqlite_append_looks_up_the_last_number_and_never_scans(rt: Runtime) -> None:
    # A scan would make every append cost in proportion to the ledger's length.
    if rt.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's own plan")
    from lendshield.ledger.service import _APPEND_SQLITE

    sql, names = _APPEND_SQLITE.sql_for(rt.engine.dialect)
    assert names is not None
    values = {"before": "{", "after": "}", "time": "2026-12-02 00:00:00.000000", "actor": "a", "action": "x"}
    values |= {"subject_ref": None, "details": None}
    raw = rt.engine.raw_connection()
    try:
        plan = [row[3] for row in raw.driver_connection.execute("EXPLAIN QUERY PLAN " + sql, [values[n] for n in names])]  # type: ignore[union-attr]
    finally:
        raw.close()
    assert any(step.startswith("SEARCH ledger_entries") for step in plan), plan
    assert not any(step.startswith("SCAN ledger_entries") for step in plan), plan
