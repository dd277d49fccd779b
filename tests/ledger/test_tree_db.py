"""Integrator, tiles, checkpoints, proofs, bundle, offline verifier and audit on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest
from sqlalchemy import select, update

from lendshield import ledger
from lendshield.ledger import merkle, note, proofs, tree
from lendshield.ledger.audit import audit
from lendshield.ledger.errors import InconsistentTree, NotYetIntegrated
from lendshield.ledger.models import LedgerEntryRow, LedgerTile
from lendshield.ledger.verify import verify_bundle
from lendshield.principals import SYSTEM
from lendshield.runtime import Runtime


def add(rt: Runtime, n: int, subject: str | None = None, actor: str = "system") -> None:
    with rt.sessions() as s:
        ref = ledger.subject_ref(rt.keys, subject) if subject else None
        for i in range(n):
            ledger.append(
                s, ledger.Entry(time=rt.clock.now(), actor=actor, action="test.op", object=f"o{i}", subject_ref=ref, details={"i": i})
            )
        s.commit()


def all_leaves(rt: Runtime) -> list[bytes]:
    with rt.sessions() as s:
        return [bytes(h) for h in s.execute(select(LedgerEntryRow.leaf_hash).order_by(LedgerEntryRow.seq)).scalars()]


def test_integrate_tiles_and_proofs_match_in_memory_tree(rt: Runtime) -> None:
    signed = tree.integrate_all(rt)
    assert signed[-1].size == 0
    assert signed[-1].root == merkle.EMPTY_ROOT
    for batch in (1, 255, 1, 300, 0, 70000 // 100):
        add(rt, batch)
        tree.integrate_all(rt)
    leaves = all_leaves(rt)
    n = len(leaves)
    with rt.sessions() as s:
        cp = tree.latest(s)
        assert cp is not None
        assert cp.size == n
        assert bytes(cp.root) == merkle.root_of(leaves)
        note.verify_note(cp.note, tree.log_public_key(rt))
        reader = tree.TileReader(s)
        for i in (0, 1, 255, 256, 511, n - 1):
            merkle.verify_inclusion(i, n, leaves[i], merkle.inclusion_proof(i, n, reader.node), bytes(cp.root))
        for first in (1, 2, 256, 257, 557):
            r1 = merkle.root_of(leaves[:first])
            merkle.verify_consistency(first, n, r1, bytes(cp.root), merkle.consistency_proof(first, n, reader.node))
        # Every checkpointed size keeps its partial tile (tlog-tiles).
        widths = set(s.execute(select(LedgerTile.width).where(LedgerTile.level == 0, LedgerTile.index == 0)).scalars())
        assert {1, 256} <= widths


def test_integrator_refuses_inconsistent_tree(rt: Runtime) -> None:
    add(rt, 3)
    tree.integrate_all(rt)
    with rt.sessions() as s:
        s.execute(update(LedgerTile).where(LedgerTile.level == 0).values(hashes=bytes(32) * 3))
        s.commit()
    add(rt, 1)
    with rt.sessions() as s, pytest.raises(InconsistentTree):
        tree.integrate(s, rt)


def test_bundle_verifies_offline_and_forgeries_fail(rt: Runtime) -> None:
    add(rt, 5, subject="subj-1")
    add(rt, 7)
    tree.integrate_all(rt)
    add(rt, 1, subject="subj-1")  # written after the checkpoint: pending
    with rt.sessions() as s:
        bundle = proofs.bundle_for_subject(s, rt, "subj-1")
    key = tree.log_public_key(rt)
    assert len(bundle["entries"]) == 5
    assert len(bundle["pending"]) == 1
    assert "subj-1" not in proofs.dumps(bundle)
    report = verify_bundle(bundle, key)
    assert report.ok, report.failures

    def broken(mutate: Any) -> list[str]:
        b = copy.deepcopy(bundle)
        mutate(b)
        return verify_bundle(b, key).failures

    assert "does not lead" in broken(lambda b: b["entries"][2].__setitem__("body", b["entries"][2]["body"].replace("o2", "o9")))[0]
    assert "details" in broken(lambda b: b["entries"][1]["details"].__setitem__("i", 99))[0]
    cp = bundle["checkpoint"]
    forged_root = base64.b64encode(bytes(32)).decode()
    lines = cp.split("\n")
    assert "signature" in broken(lambda b: b.__setitem__("checkpoint", "\n".join([lines[0], lines[1], forged_root, *lines[3:]])))[0]
    assert "signed note" in broken(lambda b: b.__setitem__("checkpoint", cp[:20]))[0]
    proof = bundle["entries"][0]["inclusion_proof"]
    bad = bytearray(base64.b64decode(proof[0]))
    bad[0] ^= 1
    assert "entry 0" in broken(lambda b: b["entries"][0]["inclusion_proof"].__setitem__(0, base64.b64encode(bytes(bad)).decode()))[0]
    other_key = key.split("+")[0] + "+00000000+" + base64.b64encode(b"\x01" + bytes(32)).decode()
    assert verify_bundle(bundle, other_key).failures
    assert verify_bundle({"format": "nope"}, key).failures
    assert verify_bundle([], key).failures


def test_not_yet_integrated(rt: Runtime) -> None:
    tree.integrate_all(rt)
    add(rt, 1)
    auditor = SYSTEM.__class__(id="a", name="a", kind="staff", roles=frozenset({"auditor"}))
    with rt.sessions() as s, pytest.raises(NotYetIntegrated):
        proofs.entry_with_proof(s, rt, auditor, 0)


def test_crash_between_effect_and_integration(rt: Runtime, db_url: str, tmp_path: Any) -> None:
    """A child process commits an entry then dies (SIGKILL) before integrating; the entry survives."""
    import os
    import signal
    import subprocess
    import sys

    script = f"""
import os, signal
from lendshield.runtime import build_runtime
from lendshield.settings import Settings
from lendshield import ledger
rt = build_runtime(Settings(environment="test", data_dir={str(rt.settings.data_dir)!r}, database_url={db_url!r}, jobs_enabled=False))
with rt.sessions() as s:
    ledger.append(s, ledger.Entry(time=rt.clock.now(), actor="system", action="test.effect"))
    s.commit()
os.kill(os.getpid(), signal.SIGKILL)
"""
    proc = subprocess.run([sys.executable, "-c", script], check=False, env={**os.environ})
    assert proc.returncode == -signal.SIGKILL
    with rt.sessions() as s:
        assert s.get(LedgerEntryRow, 0) is not None
    signed = tree.integrate_all(rt)
    assert signed[-1].size == 1


def test_audit_finds_tampering(rt: Runtime) -> None:
    add(rt, 10)
    tree.integrate_all(rt)
    key = tree.log_public_key(rt)
    with rt.sessions() as s:
        assert audit(s, key).ok
        row = s.get(LedgerEntryRow, 4)
        assert row is not None
        row.body = row.body.replace("test.op", "test.oq")
        s.commit()
        findings = audit(s, key).findings
        assert any("entry 4" in f and "altered" in f for f in findings)
        s.delete(s.get(LedgerEntryRow, 7))
        s.commit()
        assert any("deleted" in f for f in audit(s, key).findings)
