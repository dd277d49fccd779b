"""Stored inner nodes of tiles: proofs served from them equal the RFC 9162 proofs, audit checks them."""

from __future__ import annotations

import hashlib
import random

import pytest
from sqlalchemy import delete, select, update

from lendshield import ledger
from lendshield.ledger import merkle, tree
from lendshield.ledger.audit import audit
from lendshield.ledger.errors import LedgerError
from lendshield.ledger.models import LedgerTile, LedgerTileInner
from lendshield.runtime import Runtime


def leaf(i: int) -> bytes:
    return hashlib.sha256(b"\x00leaf %d" % i).digest()


def grow(rt: Runtime, batches: list[int]) -> list[bytes]:
    leaves: list[bytes] = []
    for n in batches:
        new = [leaf(len(leaves) + i) for i in range(n)]
        with rt.sessions() as s:
            tree.unsafe_integrate_leaf_hashes(s, rt, new)
            s.commit()
        leaves += new
    return leaves


def test_proofs_from_inner_nodes_match_the_in_memory_tree(rt: Runtime) -> None:
    # Past 65,536 leaves there are three tile levels; uneven batches leave partial tiles everywhere.
    leaves = grow(rt, [1, 15, 17, 4000, 65536, 3001])
    n = len(leaves)
    memory = merkle.list_node_fn(leaves)
    rng = random.Random(5)
    with rt.sessions() as s:
        cp = tree.latest(s)
        assert cp is not None
        assert bytes(cp.root) == merkle.root_of(leaves)
        for i in [0, 15, 16, 255, 256, 4095, 65535, 65536, n - 1, *rng.sample(range(n), 30)]:
            reader = tree.TileReader(s, inner=True)
            reader.prefetch(n, i)
            proof = merkle.inclusion_proof(i, n, reader.node)
            assert proof == merkle.inclusion_proof(i, n, memory)
            merkle.verify_inclusion(i, n, leaves[i], proof, bytes(cp.root))
        for first in (1, 16, 33, 4033, 69569):
            reader = tree.TileReader(s, inner=True)
            reader.prefetch(n, first - 1)
            assert merkle.consistency_proof(first, n, reader.node) == merkle.consistency_proof(first, n, memory)
        stored = s.execute(select(LedgerTileInner.hashes).where(LedgerTileInner.level == 0, LedgerTileInner.index == 0)).scalars()
        assert all(len(h) % merkle.HASH_SIZE == 0 for h in stored)


def test_tiles_without_inner_nodes_still_prove(rt: Runtime) -> None:
    leaves = grow(rt, [700])
    with rt.sessions() as s:
        s.execute(delete(LedgerTileInner))
        s.commit()
    with rt.sessions() as s:
        reader = tree.TileReader(s, inner=True)
        reader.prefetch(700, 300)
        assert merkle.inclusion_proof(300, 700, reader.node) == merkle.inclusion_proof(300, 700, merkle.list_node_fn(leaves))


def test_audit_reports_altered_inner_nodes(rt: Runtime) -> None:
    grow(rt, [300])
    with rt.sessions() as s:
        assert not [f for f in audit(s, tree.log_public_key(rt)).findings if "inner" in f]
        s.execute(update(LedgerTileInner).where(LedgerTileInner.level == 0, LedgerTileInner.index == 0).values(hashes=bytes(32) * 16))
        s.commit()
    with rt.sessions() as s:
        findings = audit(s, tree.log_public_key(rt)).findings
    assert any("tile 0/0" in f and "inner nodes" in f for f in findings)


def test_bare_leaf_hashes_are_refused_on_a_log_with_entries(rt: Runtime) -> None:
    with rt.sessions() as s:
        ledger.append(s, ledger.Entry(time=rt.clock.now(), actor="system", action="test.op"))
        s.commit()
    with rt.sessions() as s, pytest.raises(LedgerError):
        tree.unsafe_integrate_leaf_hashes(s, rt, [leaf(0)])
    with rt.sessions() as s:
        assert s.execute(select(LedgerTile)).first() is None


def test_packed_root_equals_the_rfc_root() -> None:
    for count in (1, 2, 4, 16, 128, 256):
        hashes = [leaf(i) for i in range(count)]
        assert merkle.root_of_packed(b"".join(hashes)) == merkle.root_of(hashes)
    for bad in (b"", bytes(32 * 3), bytes(33)):
        with pytest.raises(merkle.ProofError):
            merkle.root_of_packed(bad)
