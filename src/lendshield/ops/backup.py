"""`lendshield backup`: a consistent snapshot plus a manifest, encrypted, written atomically.

The data's key file is never put in the backup: key material is backed up separately
(`lendshield backup keys`), so a stolen backup is ciphertext under keys it does not carry.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select

from lendshield import ledger
from lendshield.crypto.backup_keys import encrypt_file
from lendshield.ledger.entry import rfc3339
from lendshield.ops.errors import BackupFailed
from lendshield.ops.models import BackupRunRow
from lendshield.ops.snapshot import snapshot_postgres, snapshot_sqlite
from lendshield.principals import Principal
from lendshield.runtime import Runtime

BACKUP_FORMAT = "lendshield-backup/v1"
SNAPSHOT_NAMES = {"sqlite": "database.sqlite", "postgresql": "database.pgdump"}


@dataclass(frozen=True)
class BackupResult:
    path: Path
    manifest: dict[str, Any]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_backup(rt: Runtime, out_dir: Path, recipient: str, who: Principal) -> BackupResult:
    """Snapshot, manifest, tar, encrypt to ``recipient`` (age), fsync, then rename into place.

    Until the final rename the file is called ``*.partial``: a crash or a full disk leaves no
    file that looks like a good backup.
    """
    backend = rt.engine.dialect.name
    if backend not in SNAPSHOT_NAMES:
        raise BackupFailed(f"unsupported database backend: {backend}")
    out_dir.mkdir(parents=True, exist_ok=True)
    now = rt.clock.now()
    name = f"lendshield-{now:%Y%m%dT%H%M%S%fZ}.backup"
    with tempfile.TemporaryDirectory(prefix="lendshield-backup-") as tmp_name:
        tmp = Path(tmp_name)
        snap = tmp / SNAPSHOT_NAMES[backend]
        counts = snapshot_sqlite(rt.engine, snap) if backend == "sqlite" else snapshot_postgres(rt.engine, snap)
        with rt.engine.connect() as conn:
            heads = sorted(MigrationContext.configure(conn).get_current_heads())
        manifest: dict[str, Any] = {
            "format": BACKUP_FORMAT,
            "created_at": rfc3339(now),
            "backend": backend,
            "snapshot": snap.name,
            "snapshot_sha256": sha256_file(snap),
            "snapshot_bytes": snap.stat().st_size,
            "alembic_heads": heads,
            "row_counts": counts,
            "ledger_size": counts.get("ledger_entries", 0),
            "kek_versions": rt.keys.kek_versions(),
        }
        bundle = tmp / "bundle.tar"
        with tarfile.open(bundle, "w") as tar:
            data = json.dumps(manifest, indent=2, sort_keys=True).encode()
            info = tarfile.TarInfo("manifest.json")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
            tar.add(snap, arcname=snap.name)
        final = _write_encrypted(bundle, out_dir, name, recipient)
    digest = sha256_file(final)
    with rt.sessions() as session:
        session.add(
            BackupRunRow(
                name=name, created_at=now, sha256=digest, size_bytes=final.stat().st_size, ledger_size=int(manifest["ledger_size"])
            )
        )
        ledger.append(
            session,
            ledger.Entry(
                time=now,
                actor=who.id,
                action="ops.backup",
                object=f"backup:{name}",
                details={"sha256": digest, "ledger_size": manifest["ledger_size"], "backend": backend},
            ),
        )
        session.commit()
    return BackupResult(final, manifest)


def _write_encrypted(src: Path, out_dir: Path, name: str, recipient: str) -> Path:
    """Encrypt ``src`` to ``out_dir/name`` through a ``.partial`` file, fsynced, renamed into place."""
    final, partial = out_dir / name, out_dir / (name + ".partial")
    try:
        encrypt_file(src, partial, recipient)
        with partial.open("rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(partial, final)
        _fsync_dir(out_dir)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise BackupFailed(f"writing the backup failed: {exc.strerror or type(exc).__name__}") from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return final


def backup_key_material(rt: Runtime, out_dir: Path, recipient: str, who: Principal) -> Path:
    """Back up the local key file, encrypted to its own custodian, never where the data backups go.

    A data backup and the keys that open it must not be stolen together (issue 10: "key material
    is backed up separately and never next to the data").
    """
    if rt.settings.key_provider != "local":
        raise BackupFailed("the key-encryption key is kept by the KMS; back it up with the KMS's own procedure")
    data_backups = rt.settings.resolved_backup_dir().resolve()
    out = out_dir.resolve()
    if out == data_backups or data_backups in out.parents or out in data_backups.parents:
        raise BackupFailed("refusing to write key material into (or above) the data backup directory")
    if out == rt.settings.data_dir.resolve():
        raise BackupFailed("refusing to write key material into the data directory")
    out.mkdir(parents=True, exist_ok=True)
    now = rt.clock.now()
    final = _write_encrypted(rt.settings.resolved_key_file(), out, f"lendshield-keys-{now:%Y%m%dT%H%M%S%fZ}.age", recipient)
    digest = sha256_file(final)
    with rt.sessions() as session:
        ledger.append(
            session,
            ledger.Entry(
                time=now,
                actor=who.id,
                action="ops.backup_keys",
                object=f"keys:{final.name}",
                details={"sha256": digest, "kek_versions": rt.keys.kek_versions()},
            ),
        )
        session.commit()
    return final


def last_backup_count(rt: Runtime) -> int:
    with rt.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(BackupRunRow)) or 0)
