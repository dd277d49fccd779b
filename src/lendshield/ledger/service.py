"""Appending to the ledger, inside the caller's transaction."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from lendshield.ledger.entry import Entry, canonical, leaf_hash
from lendshield.ledger.models import LedgerEntryRow, LedgerHead


def append(session: Session, entry: Entry) -> int:
    """Sequence ``entry`` in the caller's transaction and return its sequence number.

    The head row is updated first: on PostgreSQL its row lock, on SQLite the database write lock,
    serialises appenders until commit, so sequence numbers have no gaps and an entry exists only
    if the effect it records was committed with it.
    """
    seq = (
        session.execute(
            update(LedgerHead).where(LedgerHead.id == 1).values(next_seq=LedgerHead.next_seq + 1).returning(LedgerHead.next_seq)
        ).scalar_one()
        - 1
    )
    body = canonical(entry.body(seq))
    session.add(
        LedgerEntryRow(
            seq=seq,
            time=entry.time,
            actor=entry.actor,
            action=entry.action,
            subject_ref=entry.subject_ref,
            body=body.decode(),
            details=entry.details or None,
            leaf_hash=leaf_hash(body),
        )
    )
    return seq
