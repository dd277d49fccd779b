"""Backups and restore drills (the seed: 定期对数据实行备份和恢复测试, regular backups and recovery tests)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from lendshield.crypto.backup_keys import BackupDecryptError, generate_identity
from lendshield.ledger.models import LedgerEntryRow
from lendshield.ops.backup import make_backup
from lendshield.ops.drill import last_good_drill, restore_drill
from lendshield.ops.errors import DrillRefused
from lendshield.ops.models import DrillRunRow
from lendshield.principals import SYSTEM
from lendshield.runtime import Runtime
from lendshield.subjects import service as subjects


def _people(rt: Runtime, make_actor, n: int = 3) -> list[str]:  # type: ignore[no-untyped-def]
    writer = make_actor("loan_system")
    ids = []
    with rt.sessions() as session:
        for i in range(n):
            sid, _ = subjects.create_subject(
                session,
                rt,
                writer.principal,
                kind="borrower",
                fields={"name": "测试" + "甲乙丙丁戊己庚辛壬癸"[i % 10], "mobile": f"138{i:08d}"},
            )
            ids.append(sid)
        session.commit()
    return ids


@pytest.fixture
def backup_key(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "backup.key"
    return path, generate_identity(path)


def test_backup_then_shred_then_drill_keeps_the_person_unreadable(rt: Runtime, make_actor, tmp_path: Path, backup_key) -> None:  # type: ignore[no-untyped-def]
    ids = _people(rt, make_actor)
    identity, recipient = backup_key
    result = make_backup(rt, tmp_path / "backups", recipient, SYSTEM)
    assert result.path.name.endswith(".backup")
    assert not list((tmp_path / "backups").glob("*.partial"))
    assert result.manifest["row_counts"]["subjects"] == 3
    raw = result.path.read_bytes()
    assert b"SQLite format" not in raw  # encrypted, not a plain snapshot
    assert b"PGDMP" not in raw
    assert identity.stat().st_mode & 0o777 == 0o600

    rt.clock.advance(timedelta(minutes=5))  # type: ignore[attr-defined]
    officer = make_actor("protection_officer")
    with rt.sessions() as session:
        subjects.shred(session, rt, officer.principal, ids[0], reason="deletion request (PIPL Art. 47)")
        session.commit()

    report = restore_drill(rt, result.path, identity, SYSTEM, sample=10, report_dir=tmp_path / "reports", seed=1)
    checks = {c.name: c for c in report.checks}
    assert report.ok, report.checks
    assert report.reapplied_shreds == 1
    assert checks["shreds-reapplied"].ok
    assert report.sampled_subjects == 2  # the shredded person is no longer sampled
    saved = json.loads((tmp_path / "reports" / (result.path.name + ".drill.json")).read_text())
    assert saved["ok"] is True
    assert (tmp_path / "reports" / (result.path.name + ".drill.html")).read_text().startswith("<!doctype html>")
    with rt.sessions() as session:
        actions = list(session.scalars(select(LedgerEntryRow.action).order_by(LedgerEntryRow.seq)))
    assert "ops.backup" in actions
    assert actions[-1] == "ops.restore_drill"
    assert last_good_drill(rt) is not None


def test_drill_refuses_a_wrong_key(rt: Runtime, make_actor, tmp_path: Path, backup_key) -> None:  # type: ignore[no-untyped-def]
    _people(rt, make_actor, 1)
    _, recipient = backup_key
    result = make_backup(rt, tmp_path, recipient, SYSTEM)
    other = tmp_path / "other.key"
    generate_identity(other)
    with pytest.raises(BackupDecryptError):
        restore_drill(rt, result.path, other, SYSTEM)
    with rt.sessions() as session:
        drill = session.scalars(select(DrillRunRow)).one()
    assert drill.ok is False
    assert last_good_drill(rt) is None


def test_drill_refuses_a_truncated_or_altered_backup(rt: Runtime, make_actor, tmp_path: Path, backup_key) -> None:  # type: ignore[no-untyped-def]
    _people(rt, make_actor, 1)
    identity, recipient = backup_key
    result = make_backup(rt, tmp_path, recipient, SYSTEM)
    data = result.path.read_bytes()
    truncated = tmp_path / "truncated.backup"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(BackupDecryptError):
        restore_drill(rt, truncated, identity, SYSTEM)
    flipped = bytearray(data)
    flipped[-40] ^= 0x01
    altered = tmp_path / "altered.backup"
    altered.write_bytes(bytes(flipped))
    with pytest.raises(BackupDecryptError):
        restore_drill(rt, altered, identity, SYSTEM)


def test_drill_refuses_a_snapshot_that_does_not_match_its_manifest(rt: Runtime, make_actor, tmp_path: Path, backup_key) -> None:  # type: ignore[no-untyped-def]
    """A backup re-encrypted by someone holding the recipient, with a swapped snapshot, is still refused."""
    import io
    import tarfile

    from lendshield.crypto.backup_keys import decrypt_file, encrypt_file, load_identity

    _people(rt, make_actor, 1)
    identity, recipient = backup_key
    result = make_backup(rt, tmp_path, recipient, SYSTEM)
    plain = tmp_path / "plain.tar"
    decrypt_file(result.path, plain, load_identity(identity))
    forged = tmp_path / "forged.tar"
    with tarfile.open(plain) as src, tarfile.open(forged, "w") as dst:
        for member in src.getmembers():
            payload = src.extractfile(member)
            assert payload is not None
            body = payload.read()
            if member.name != "manifest.json":
                body = body[:-1] + bytes([body[-1] ^ 1])
            member.size = len(body)
            dst.addfile(member, io.BytesIO(body))
    encrypt_file(forged, tmp_path / "forged.backup", recipient)
    with pytest.raises(DrillRefused, match="hash"):
        restore_drill(rt, tmp_path / "forged.backup", identity, SYSTEM)


def test_full_disk_leaves_no_file_that_looks_good(rt: Runtime, make_actor, tmp_path: Path, backup_key) -> None:  # type: ignore[no-untyped-def]
    """The backup command under a file-size limit (as on a full disk) fails cleanly: no *.backup, no *.partial."""
    import resource
    import signal
    import subprocess
    import sys

    if rt.engine.dialect.name != "sqlite":
        pytest.skip("the file-size limit is applied to the SQLite snapshot")
    _people(rt, make_actor, 30)
    _, recipient = backup_key
    out = tmp_path / "out"

    def small_disk() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (16 * 1024, 16 * 1024))

    proc = subprocess.run(
        [sys.executable, "-m", "lendshield.cli", "backup", "--out", str(out), "--recipient", recipient],
        env=_cli_env(rt),
        capture_output=True,
        text=True,
        preexec_fn=small_disk,
        check=False,
        timeout=120,
    )
    assert proc.returncode != 0
    assert proc.stderr.strip().startswith("error:"), proc.stderr
    assert "snapshot failed" in proc.stderr or "writing the backup failed" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not list(out.glob("*.backup"))
    assert not list(out.glob("*.partial"))


def _cli_env(rt: Runtime) -> dict[str, str]:
    """The environment of a `lendshield` process on the test's database and data directory."""
    import os

    return os.environ | {"LENDSHIELD_DATA_DIR": str(rt.settings.data_dir), "LENDSHIELD_DATABASE_URL": rt.settings.resolved_database_url()}


def _cli(rt: Runtime, cwd: Path, *argv: str):  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "lendshield.cli", *argv], env=_cli_env(rt), cwd=cwd, capture_output=True, text=True, check=False, timeout=300
    )


def test_restore_drill_command_reports_in_the_drill_directory(rt: Runtime, make_actor, tmp_path: Path, backup_key) -> None:  # type: ignore[no-untyped-def]
    """`lendshield restore-drill`: a pass line per check and exit 0 for a good backup, its reports in
    the settings' drill directory (not wherever the command was started); a truncated backup gets
    one line on stderr, a non-zero exit and a failed drill on record."""
    _people(rt, make_actor, 2)
    identity, recipient = backup_key
    result = make_backup(rt, tmp_path / "backups", recipient, SYSTEM)
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()

    good = _cli(rt, cwd, "restore-drill", str(result.path), "--identity", str(identity), "--sample", "2")
    assert good.returncode == 0, good.stderr
    lines = good.stdout.strip().splitlines()
    assert len(lines) >= 8, good.stdout
    assert all(line.startswith("pass  ") for line in lines), good.stdout
    assert any(line.startswith("pass  ledger.checkpoint") for line in lines)
    reports = rt.settings.resolved_drill_report_dir()
    assert reports == rt.settings.data_dir / "drills"
    assert json.loads((reports / f"{result.path.name}.drill.json").read_text())["ok"] is True
    assert (reports / f"{result.path.name}.drill.html").is_file()
    assert not list(cwd.iterdir())

    truncated = tmp_path / "truncated.backup"
    truncated.write_bytes(result.path.read_bytes()[:4096])
    bad = _cli(rt, cwd, "restore-drill", str(truncated), "--identity", str(identity))
    assert bad.returncode != 0
    assert bad.stderr.strip().startswith("error:"), bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    assert "truncated" in bad.stderr
    with rt.sessions() as session:
        assert sorted(session.scalars(select(DrillRunRow.ok))) == [False, True]

    missing = _cli(rt, cwd, "restore-drill", str(tmp_path / "no-such.backup"), "--identity", str(identity))
    assert missing.returncode != 0
    assert missing.stderr.strip() == "error: no backup file at no-such.backup"
