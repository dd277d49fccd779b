"""The restore drill checks the restored ledger against its last signed checkpoint and the live log."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import update

from lendshield.crypto.backup_keys import generate_identity
from lendshield.ledger.entry import leaf_hash
from lendshield.ledger.models import LedgerEntryRow
from lendshield.ledger.tree import integrate_all
from lendshield.ops.backup import make_backup
from lendshield.ops.drill import restore_drill
from lendshield.principals import SYSTEM
from lendshield.runtime import Runtime
from lendshield.subjects import service as subjects


@pytest.fixture
def backup_key(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "backup.key"
    return path, generate_identity(path)


def _people(rt: Runtime, make_actor) -> None:  # type: ignore[no-untyped-def]
    writer = make_actor("loan_system")
    with rt.sessions() as session:
        for i in range(3):
            subjects.create_subject(session, rt, writer.principal, kind="borrower", fields={"name": "测试", "mobile": f"138{i:08d}"})
        session.commit()


def test_drill_verifies_the_restored_log_against_the_signed_checkpoint(rt: Runtime, make_actor, tmp_path: Path, backup_key) -> None:  # type: ignore[no-untyped-def]
    _people(rt, make_actor)
    integrate_all(rt)
    identity, recipient = backup_key
    backup = make_backup(rt, tmp_path / "backups", recipient, SYSTEM)

    report = restore_drill(rt, backup.path, identity, SYSTEM, sample=3, seed=1)
    checks = {c.name: c for c in report.checks}
    assert report.ok, report.checks
    assert checks["ledger.checkpoint"].ok
    assert "matches the live log" in checks["ledger.checkpoint"].detail


def test_drill_fails_an_entry_rewritten_with_its_leaf_hash(rt: Runtime, make_actor, tmp_path: Path, backup_key) -> None:  # type: ignore[no-untyped-def]
    """An insider who rewrites an entry and recomputes its leaf hash passes the leaf check, not this one."""
    _people(rt, make_actor)
    integrate_all(rt)
    forged = '{"action":"subject.create","actor":"nobody","object":"borrower:fields","seq":0,"v":1}'
    with rt.engine.begin() as conn:
        conn.execute(update(LedgerEntryRow).where(LedgerEntryRow.seq == 0).values(body=forged, leaf_hash=leaf_hash(forged.encode())))
    identity, recipient = backup_key
    backup = make_backup(rt, tmp_path / "backups", recipient, SYSTEM)

    report = restore_drill(rt, backup.path, identity, SYSTEM, sample=3, seed=1)
    checks = {c.name: c for c in report.checks}
    assert checks["ledger.leaf-hashes"].ok  # the forgery is self-consistent ...
    assert not checks["ledger.checkpoint"].ok  # ... but not what the log signed
    assert "entry 0" in checks["ledger.checkpoint"].detail
    assert not report.ok
