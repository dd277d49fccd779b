"""Appending to the ledger, inside the caller's transaction."""

from __future__ import annotations

from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.orm import Session

from lendshield.db.engine import statement_lane
from lendshield.ledger.entry import Entry, leaf_hash
from lendshield.ledger.models import LedgerEntryRow, LedgerHead
from lendshield.ledger.prepared import Prepared

# Core statements run on the session's cursor (``ledger.prepared``): appends happen on every
# request, and SQLAlchemy's per-execution work would cost more than the two statements themselves.
_HEAD: Table = LedgerHead.__table__  # type: ignore[assignment]
_ENTRIES: Table = LedgerEntryRow.__table__  # type: ignore[assignment]
_NEXT = Prepared(update(_HEAD).where(_HEAD.c.id == 1).values(next_seq=_HEAD.c.next_seq + 1).returning(_HEAD.c.next_seq))
_LAST = Prepared(select(func.max(_ENTRIES.c.seq)))
_INSERT = Prepared(insert(_ENTRIES))


def append(session: Session, entry: Entry) -> int:
    """Sequence ``entry`` in the caller's transaction and return its sequence number.

    On PostgreSQL the head row is updated first, and its row lock serialises appenders until
    commit. On SQLite the transaction holds the database write lock from its start (``BEGIN
    IMMEDIATE``), so the next number is the last one plus one, with no page of a head row to
    write. Either way sequence numbers have no gaps, and an entry exists only if the effect it
    records was committed with it; the primary key refuses a number taken twice.
    """
    conn = statement_lane(session)
    if conn.dialect.name == "sqlite":
        last = _LAST.run(conn)[0][0]
        seq = 0 if last is None else int(last) + 1
    else:
        seq = int(_NEXT.run(conn)[0][0]) - 1
    body = entry.canonical(seq)
    _INSERT.run(
        conn,
        {
            "seq": seq,
            "time": entry.time,
            "actor": entry.actor,
            "action": entry.action,
            "subject_ref": entry.subject_ref,
            "body": body.decode(),
            "details": entry.details or None,
            "leaf_hash": leaf_hash(body),
        },
    )
    return seq
