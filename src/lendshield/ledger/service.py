"""Appending to the ledger, inside the caller's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, DateTime, String, Table, bindparam, func, insert, select, text, update
from sqlalchemy.orm import Session

from lendshield.db.engine import Lane, statement_lane
from lendshield.ledger.entry import Details, Entry, leaf_hash
from lendshield.ledger.models import LedgerEntryRow, LedgerHead
from lendshield.ledger.prepared import Prepared, Raw

# Core statements run on the session's cursor (``ledger.prepared``): appends happen on every
# request, and SQLAlchemy's per-execution work would cost more than the statements themselves.
_HEAD: Table = LedgerHead.__table__  # type: ignore[assignment]
_ENTRIES: Table = LedgerEntryRow.__table__  # type: ignore[assignment]
_NEXT = Prepared(update(_HEAD).where(_HEAD.c.id == 1).values(next_seq=_HEAD.c.next_seq + 1).returning(_HEAD.c.next_seq))
_LAST = Prepared(select(func.max(_ENTRIES.c.seq)))
_INSERT = Prepared(insert(_ENTRIES))

# The parameters of the one-statement appends below, typed as the columns they fill.
_APPEND_BINDS = (
    bindparam("before", type_=String()),
    bindparam("after", type_=String()),
    bindparam("time", type_=DateTime()),
    bindparam("actor", type_=String()),
    bindparam("action", type_=String()),
    bindparam("subject_ref", type_=String()),
    bindparam("details", type_=JSON()),
)

# PostgreSQL, in one statement and one round trip: take the next number from the head row, put
# its digits into the canonical body between the text before and after them
# (``Entry.canonical_around_seq``), and store the entry with its RFC 9162 leaf hash,
# SHA-256(0x00 || body). The head row's lock is then held only from this statement to the
# commit. Sequence numbers stay far below 2**53 (28,000 years at 10,000 entries a second); the
# guard makes one beyond it insert nothing, and the caller fails instead of storing a body the
# general path would have written differently.
_APPEND_PG = Prepared(
    text(
        """
        WITH head AS (
            UPDATE ledger_head SET next_seq = next_seq + 1 WHERE id = 1 RETURNING next_seq - 1 AS seq
        ), entry AS (
            SELECT seq, CAST(:before AS TEXT) || seq::text || CAST(:after AS TEXT) AS body FROM head WHERE seq < 9007199254740992
        )
        INSERT INTO ledger_entries (seq, time, actor, action, subject_ref, body, details, leaf_hash)
        SELECT seq, :time, :actor, :action, :subject_ref, body, :details, sha256(decode('00', 'hex') || convert_to(body, 'UTF8'))
        FROM entry
        RETURNING seq
        """
    ).bindparams(*_APPEND_BINDS),
    returns_rows=True,
)


# SQLite, likewise in one statement: the next number is the last plus one (``seq`` is the rowid,
# so its maximum is one lookup, kept in a scalar subquery, which SQLite never flattens into a
# scan of the table: tests/ledger/test_append.py), and the leaf hash comes from
# ``ledger_leaf_hash``, a function every SQLite connection of ``db.make_engine`` has. One
# statement is one transaction with the write lock for its duration, so an autocommit unit of
# work (the masked read) needs no transaction of its own to append.
_APPEND_SQLITE = Prepared(
    text(
        """
        INSERT INTO ledger_entries (seq, time, actor, action, subject_ref, body, details, leaf_hash)
        SELECT seq, :time, :actor, :action, :subject_ref, body, :details, ledger_leaf_hash(body)
        FROM (
            SELECT seq, CAST(:before AS TEXT) || seq || CAST(:after AS TEXT) AS body
            FROM (SELECT COALESCE((SELECT MAX(seq) FROM ledger_entries) + 1, 0) AS seq)
            WHERE seq < 9007199254740992
        )
        RETURNING seq
        """
    ).bindparams(*_APPEND_BINDS),
    returns_rows=True,
)


def append(session: Session, entry: Entry) -> int:
    """Sequence ``entry`` in the caller's transaction and return its sequence number.

    On PostgreSQL the head row's lock serialises appenders until commit. On SQLite the
    transaction holds the database write lock from its start (``BEGIN IMMEDIATE``), so the next
    number is the last one plus one, with no page of a head row to write. Either way sequence
    numbers have no gaps, and an entry exists only if the effect it records was committed with
    it; the primary key refuses a number taken twice. In an autocommit unit of work
    (``UnitSession.statement_autocommit``) the entry is one statement, committed by itself, or,
    on the general path, a transaction of its own.
    """
    conn = statement_lane(session)
    columns = {
        "time": entry.time,
        "actor": entry.actor,
        "action": entry.action,
        "subject_ref": entry.subject_ref,
        "details": entry.details or None,
    }
    sqlite = conn.dialect.name == "sqlite"
    if sqlite:
        _sqlite_forms(columns)
    around = entry.canonical_around_seq()
    if around is None:  # the general path: the number first, then the body written from it
        with conn.atomic():
            if sqlite:
                last = _LAST.run(conn)[0][0]
                return _insert(conn, entry, 0 if last is None else int(last) + 1, columns)
            return _insert(conn, entry, int(_NEXT.run(conn)[0][0]) - 1, columns)
    params = {"before": around[0], "after": around[1], **columns}
    with conn.writing():
        rows = (_APPEND_SQLITE if sqlite else _APPEND_PG).run(conn, params)
    if not rows:
        raise RuntimeError("the ledger's sequence number reached 2**53")
    return int(rows[0][0])


def _sqlite_forms(columns: dict[str, Any]) -> None:
    """Give a shared ``Details``' JSON as the very text SQLAlchemy's JSON type would store on
    SQLite, kept from the details' making instead of serialised for every entry."""
    details = columns["details"]
    if type(details) is Details:
        columns["details"] = Raw(details.json)


def _insert(conn: Lane, entry: Entry, seq: int, columns: dict[str, Any]) -> int:
    body = entry.canonical(seq)
    _INSERT.run(conn, {"seq": seq, "body": body.decode(), "leaf_hash": leaf_hash(body), **columns})
    return seq
