"""Serving proofs and the per-subject bundle (formats in docs/ledger.md)."""

from __future__ import annotations

import base64
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lendshield.ledger import merkle
from lendshield.ledger.errors import BadProofRequest, EntryForbidden, EntryNotFound, NoCheckpoint, NotYetIntegrated
from lendshield.ledger.models import LedgerCheckpoint, LedgerEntryRow
from lendshield.ledger.refs import subject_ref
from lendshield.ledger.tree import TileReader, checkpoint_at, latest, log_public_key, with_cosignatures
from lendshield.principals import Principal
from lendshield.runtime import Runtime

BUNDLE_FORMAT = "lendshield-ledger-bundle/v1"
SEE_ALL_ROLES = ("auditor", "protection_officer")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _current(session: Session) -> LedgerCheckpoint:
    cp = latest(session)
    if cp is None:
        raise NoCheckpoint("the log has not signed a checkpoint yet")
    return cp


def may_see(principal: Principal, row: LedgerEntryRow) -> bool:
    """Auditors and protection officers see every entry; anyone else only entries they acted in."""
    return principal.has_role(*SEE_ALL_ROLES) or row.actor == principal.id


def entry_with_proof(session: Session, rt: Runtime, principal: Principal, seq: int) -> dict[str, Any]:
    if seq < 0:
        raise BadProofRequest("sequence numbers start at 0")
    row = session.get(LedgerEntryRow, seq)
    if row is None:
        raise EntryNotFound(f"no ledger entry {seq}")
    if not may_see(principal, row):
        raise EntryForbidden("this entry is visible to its actor, auditors and protection officers only")
    cp = _current(session)
    if seq >= cp.size:
        raise NotYetIntegrated(f"entry {seq} is not in the latest checkpoint (size {cp.size}) yet; retry shortly")
    return {**_proved_entry(TileReader(session, inner=True), row, cp.size), "checkpoint": with_cosignatures(session, cp)}


def _proved_entry(reader: TileReader, row: LedgerEntryRow, size: int) -> dict[str, Any]:
    reader.prefetch(size, row.seq)
    return {
        "seq": row.seq,
        "body": row.body,
        "details": row.details,
        "tree_size": size,
        "inclusion_proof": [b64(h) for h in merkle.inclusion_proof(row.seq, size, reader.node)],
    }


def proof_for_entry(session: Session, seq: int) -> dict[str, Any] | None:
    """An entry's body, inclusion proof and signed checkpoint, or None until it is integrated.

    For delivery to a party that already holds the entry's reference (a device its command's).
    """
    cp = latest(session)
    row = session.get(LedgerEntryRow, seq)
    if cp is None or row is None or seq >= cp.size:
        return None
    return {**_proved_entry(TileReader(session, inner=True), row, cp.size), "checkpoint": with_cosignatures(session, cp)}


def consistency(session: Session, first: int, second: int) -> dict[str, Any]:
    if not 0 <= first <= second:
        raise BadProofRequest("need 0 <= first <= second")
    if checkpoint_at(session, second) is None or (first and checkpoint_at(session, first) is None):
        raise BadProofRequest("both sizes must be sizes of signed checkpoints")
    reader = TileReader(session, inner=True)
    reader.prefetch(second, *((first - 1,) if first else ()))
    proof = merkle.consistency_proof(first, second, reader.node)
    return {"first": first, "second": second, "proof": [b64(h) for h in proof]}


def bundle_for_subject(session: Session, rt: Runtime, subject_id: str) -> dict[str, Any]:
    """Every entry about one subject, each with an inclusion proof to one signed checkpoint.

    Entries written after that checkpoint are listed in ``pending`` by sequence number only;
    the borrower can fetch a newer bundle once they are integrated.
    """
    cp = _current(session)
    ref = subject_ref(rt.keys, subject_id)
    rows = session.execute(select(LedgerEntryRow).where(LedgerEntryRow.subject_ref == ref).order_by(LedgerEntryRow.seq)).scalars().all()
    reader = TileReader(session, inner=True)
    return {
        "format": BUNDLE_FORMAT,
        "log_key": log_public_key(rt),
        "checkpoint": with_cosignatures(session, cp),
        "subject_ref": ref,
        "entries": [_proved_entry(reader, r, cp.size) for r in rows if r.seq < cp.size],
        "pending": [r.seq for r in rows if r.seq >= cp.size],
    }


def dumps(bundle: dict[str, Any]) -> str:
    return json.dumps(bundle, ensure_ascii=False, indent=2, sort_keys=True)
