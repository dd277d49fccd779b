"""Tamper detection: recompute the tree from the stored entries and compare with what was signed."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from lendshield.ledger import merkle, note
from lendshield.ledger.entry import leaf_hash
from lendshield.ledger.models import LedgerCheckpoint, LedgerEntryRow, LedgerTile, LedgerTileInner
from lendshield.ledger.tree import TileReader, group_hashes


@dataclass
class AuditReport:
    entries: int = 0
    checkpoints: int = 0
    findings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


class _Compact:
    """A compact range over a growing tree: the root of every prefix in O(log n) (RFC 9162 §2.1.1)."""

    def __init__(self) -> None:
        self.stack: list[tuple[int, bytes]] = []

    def push(self, h: bytes) -> None:
        height = 0
        while self.stack and self.stack[-1][0] == height:
            _, left = self.stack.pop()
            h = merkle.node_hash(left, h)
            height += 1
        self.stack.append((height, h))

    def root(self) -> bytes:
        if not self.stack:
            return merkle.EMPTY_ROOT
        r = self.stack[-1][1]
        for _, left in reversed(self.stack[:-1]):
            r = merkle.node_hash(left, r)
        return r


def audit(session: Session, log_key: str) -> AuditReport:
    """Report entries altered, deleted, inserted or reordered after signing, and bad checkpoints."""
    report = AuditReport()
    cps = session.execute(select(LedgerCheckpoint).order_by(LedgerCheckpoint.size)).scalars().all()
    report.checkpoints = len(cps)
    for cp in cps:
        try:
            parsed = note.verify_note(cp.note, log_key)
            if parsed.size != cp.size or parsed.root != bytes(cp.root):
                report.findings.append(f"checkpoint {cp.size}: stored size/root differ from the signed note")
        except note.NoteError as exc:
            report.findings.append(f"checkpoint {cp.size}: {exc}")
    signed_size = cps[-1].size if cps else 0
    roots = {cp.size: bytes(cp.root) for cp in cps}
    reader = TileReader(session)
    compact = _Compact()
    expected = 0
    if 0 in roots and roots[0] != merkle.EMPTY_ROOT:
        report.findings.append("checkpoint 0: root is not the empty-tree hash")
    rows = session.execute(select(LedgerEntryRow.seq, LedgerEntryRow.body, LedgerEntryRow.leaf_hash).order_by(LedgerEntryRow.seq))
    for seq, body, stored in rows:
        report.entries += 1
        if seq != expected:
            if seq > expected:
                report.findings.append(f"entries {expected}..{seq - 1} deleted (sequence gap)")
            expected = seq
        try:
            body_seq = json.loads(body).get("seq")
        except (ValueError, AttributeError):
            body_seq = None
        if body_seq != seq:
            report.findings.append(f"entry {seq}: body carries seq {body_seq} (inserted or reordered)")
        h = leaf_hash(body.encode())
        if h != bytes(stored):
            report.findings.append(f"entry {seq}: body does not match its stored leaf hash (altered)")
        if seq < signed_size:
            tile = reader.tile(0, seq // 256)
            off = (seq % 256) * 32
            if tile[off : off + 32] != h:
                report.findings.append(f"entry {seq}: differs from the signed tree (altered after signing)")
        compact.push(h)
        expected = seq + 1
        if expected in roots and compact.root() != roots[expected]:
            report.findings.append(f"checkpoint {expected}: root does not match the stored entries")
    if expected < signed_size:
        report.findings.append(f"entries {expected}..{signed_size - 1} deleted (signed but missing)")
    for a, b in itertools.pairwise(cps):
        try:
            proof = merkle.consistency_proof(a.size, b.size, reader.node)
            merkle.verify_consistency(a.size, b.size, bytes(a.root), bytes(b.root), proof)
        except merkle.ProofError as exc:
            report.findings.append(f"checkpoints {a.size} and {b.size} are not consistent: {exc}")
    # Proofs are served from the tiles' stored inner nodes: each must be its tile's group hashes.
    inner = session.execute(
        select(LedgerTileInner.level, LedgerTileInner.index, LedgerTileInner.width, LedgerTileInner.hashes, LedgerTile.hashes)
        .outerjoin(
            LedgerTile,
            (LedgerTile.level == LedgerTileInner.level)
            & (LedgerTile.index == LedgerTileInner.index)
            & (LedgerTile.width == LedgerTileInner.width),
        )
        .order_by(LedgerTileInner.level, LedgerTileInner.index, LedgerTileInner.width)
    )
    for level, index, width, groups, tile in inner:
        if tile is None or group_hashes(bytes(tile)) != bytes(groups):
            report.findings.append(f"tile {level}/{index} (width {width}): stored inner nodes do not match the tile")
    return report
