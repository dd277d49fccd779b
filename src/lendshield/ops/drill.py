"""`lendshield restore-drill`: prove that a backup restores, migrates, adds up and decrypts.

Steps: decrypt and unpack, check the manifest and snapshot hash, restore into a scratch database,
apply migrations, compare row counts, check the ledger's sequence and leaf hashes, re-apply every
crypto-shred the live ledger recorded after the backup (so a deleted person never comes back from
a backup), decrypt a random sample, and write a report (JSON and HTML) and a ledger entry.
"""

from __future__ import annotations

import hashlib
import html
import json
import random
import shutil
import tarfile
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from lendshield import ledger
from lendshield.crypto.backup_keys import decrypt_file, load_identity
from lendshield.db import make_engine
from lendshield.db.migrate import upgrade
from lendshield.errors import LendShieldError
from lendshield.ledger.audit import audit as audit_log
from lendshield.ledger.entry import leaf_hash, rfc3339
from lendshield.ledger.models import LedgerCheckpoint, LedgerEntryRow
from lendshield.ledger.tree import log_public_key
from lendshield.ops.backup import BACKUP_FORMAT, SNAPSHOT_NAMES, sha256_file
from lendshield.ops.errors import DrillRefused
from lendshield.ops.models import DrillRunRow
from lendshield.ops.snapshot import count_rows, libpq_url
from lendshield.principals import Principal
from lendshield.runtime import Runtime, build_runtime
from lendshield.subjects import drill as vault_drill


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class DrillReport:
    backup: str
    started_at: str
    finished_at: str = ""
    checks: list[Check] = field(default_factory=list)
    reapplied_shreds: int = 0
    sampled_subjects: int = 0
    sampled_fields: int = 0

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def add(self, name: str, ok: bool, detail: str) -> None:
        self.checks.append(Check(name, ok, detail))

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["ok"] = self.ok
        return out

    def to_html(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(c.name)}</td><td>{'pass' if c.ok else 'FAIL'}</td><td>{html.escape(c.detail)}</td></tr>"
            for c in self.checks
        )
        verdict = "passed" if self.ok else "FAILED"
        return (
            "<!doctype html><html lang='en'><meta charset='utf-8'><title>Restore drill</title>"
            f"<h1>Restore drill {verdict}</h1><p>Backup {html.escape(self.backup)}; started {self.started_at}; "
            f"finished {self.finished_at}.</p><table><thead><tr><th>check</th><th>result</th><th>detail</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></html>"
        )


def _safe_extract(bundle: Path, dest: Path, allowed: set[str]) -> None:
    try:
        with tarfile.open(bundle, "r") as tar:
            members = tar.getmembers()
            names = {m.name for m in members}
            if not names <= allowed or any(not m.isfile() for m in members):
                raise DrillRefused("the backup contains unexpected members")
            tar.extractall(dest, filter="data")
    except tarfile.TarError as exc:
        raise DrillRefused("the backup's archive is corrupt or truncated") from exc


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DrillRefused("the backup has no readable manifest") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != BACKUP_FORMAT:
        raise DrillRefused("the manifest is not a LendShield backup manifest")
    if manifest.get("backend") not in SNAPSHOT_NAMES or manifest.get("snapshot") != SNAPSHOT_NAMES[manifest["backend"]]:
        raise DrillRefused("the manifest names an unknown backend or snapshot")
    return manifest


@contextmanager
def _scratch_database(rt: Runtime, manifest: dict[str, Any], snapshot: Path, tmp: Path) -> Iterator[str]:
    """Restore the snapshot into a throw-away database and yield its URL."""
    if manifest["backend"] == "sqlite":
        path = tmp / "scratch.sqlite"
        shutil.copy(snapshot, path)
        yield f"sqlite:///{path}"
        return
    live = rt.engine.url.render_as_string(hide_password=False)
    if not live.startswith("postgresql"):
        raise DrillRefused("a PostgreSQL backup needs a PostgreSQL server to restore into")
    name = f"lendshield_drill_{uuid.uuid4().hex[:12]}"
    admin = create_engine(live, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(live).set(database=name).render_as_string(hide_password=False)
    try:
        import subprocess

        proc = subprocess.run(
            [
                "pg_restore",
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                f"--dbname={libpq_url(url)}",
                str(snapshot),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise DrillRefused("pg_restore could not restore the snapshot")
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _check_ledger(session: Any, report: DrillReport) -> None:
    expected = 0
    bad: list[int] = []
    for row in session.scalars(select(LedgerEntryRow).order_by(LedgerEntryRow.seq)):
        if row.seq != expected:
            report.add("ledger.sequence", False, f"gap or reorder at {expected} (found {row.seq})")
            return
        if leaf_hash(row.body.encode()) != row.leaf_hash:
            bad.append(row.seq)
        expected += 1
    report.add("ledger.sequence", True, f"{expected} entries, no gaps")
    report.add("ledger.leaf-hashes", not bad, "all leaf hashes match their entries" if not bad else f"altered entries: {bad[:10]}")


def _check_checkpoints(session: Any, scratch: Runtime, live: Runtime, report: DrillReport) -> None:
    """The restored log against its last signed checkpoint, and that checkpoint against the live log.

    The audit recomputes the tree from the restored entries and checks every checkpoint's
    signature (an entry altered with its leaf hash recomputed still differs from the signed tree);
    the live log must hold the same root at that size, so the backup is a prefix of the log the
    borrowers verify against, not a fork of it.
    """
    found = audit_log(session, log_public_key(scratch))
    last = session.scalars(select(LedgerCheckpoint).order_by(LedgerCheckpoint.size.desc()).limit(1)).first()
    if found.findings:
        report.add("ledger.checkpoint", False, "; ".join(found.findings[:5]))
        return
    if last is None:
        # Taken before the first integration: nothing signed to compare with (entries are checked above).
        report.add("ledger.checkpoint", True, f"no signed checkpoint in the backup yet; {found.entries} entries not yet signed")
        return
    with live.sessions() as live_session:
        live_cp = live_session.get(LedgerCheckpoint, last.size)
        live_root = bytes(live_cp.root) if live_cp is not None else None
    if live_root is not None and live_root != bytes(last.root):
        report.add("ledger.checkpoint", False, f"the live log's root at size {last.size} differs from the backup's (a fork)")
        return
    where = "matches the live log" if live_root is not None else "not among the live log's checkpoints"
    report.add("ledger.checkpoint", True, f"{found.checkpoints} signed checkpoints verified; tree of size {last.size} {where}")


def _shred_refs_after(rt: Runtime, since: str) -> set[str]:
    cutoff = datetime.fromisoformat(since.replace("Z", "+00:00"))
    with rt.sessions() as session:
        rows = session.execute(
            select(LedgerEntryRow.subject_ref).where(LedgerEntryRow.action == "subject.shred", LedgerEntryRow.time >= cutoff)
        )
        return {ref for (ref,) in rows if ref}


def restore_drill(
    rt: Runtime,
    backup: Path,
    identity_file: Path,
    who: Principal,
    *,
    sample: int = 25,
    report_dir: Path | None = None,
    seed: int | None = None,
) -> DrillReport:
    """Run the drill; a refused backup is recorded as a failed drill, then the refusal is raised."""
    started = rt.clock.now()
    report = DrillReport(backup=backup.name, started_at=rfc3339(started))
    try:
        _run(rt, backup, identity_file, report, sample, seed)
    except LendShieldError as exc:
        report.add("refused", False, exc.detail)
        _record(rt, backup, report, who, started, report_dir)
        raise
    _record(rt, backup, report, who, started, report_dir)
    return report


def _run(rt: Runtime, backup: Path, identity_file: Path, report: DrillReport, sample: int, seed: int | None) -> None:
    identity = load_identity(identity_file)
    with tempfile.TemporaryDirectory(prefix="lendshield-drill-") as tmp_name:
        tmp = Path(tmp_name)
        bundle = tmp / "bundle.tar"
        decrypt_file(backup, bundle, identity)
        report.add("decrypt", True, "backup decrypted with the backup identity")
        _safe_extract(bundle, tmp, {"manifest.json", *SNAPSHOT_NAMES.values()})
        manifest = _read_manifest(tmp / "manifest.json")
        snapshot = tmp / manifest["snapshot"]
        if not snapshot.exists() or sha256_file(snapshot) != manifest.get("snapshot_sha256"):
            raise DrillRefused("the snapshot does not match the manifest's hash")
        report.add("manifest", True, f"snapshot sha256 {manifest['snapshot_sha256'][:16]}... matches")
        with _scratch_database(rt, manifest, snapshot, tmp) as url:
            engine = make_engine(url)
            try:
                with engine.connect() as conn:
                    counts = count_rows(conn)
                expected = manifest.get("row_counts", {})
                diff = {t: (expected.get(t), counts.get(t)) for t in set(expected) | set(counts) if expected.get(t) != counts.get(t)}
                report.add(
                    "row-counts", not diff, f"{sum(counts.values())} rows in {len(counts)} tables" if not diff else f"differ: {diff}"
                )
                upgrade(engine)
                report.add("migrations", True, "migrations apply to the restored schema")
                scratch = build_runtime(rt.settings.model_copy(update={"database_url": url}), clock=rt.clock, engine=engine)
                with scratch.sessions() as session:
                    _check_ledger(session, report)
                    _check_checkpoints(session, scratch, rt, report)
                    refs = _shred_refs_after(rt, manifest["created_at"])
                    shredded = vault_drill.reapply_shreds(session, scratch, refs, "re-applied after restore: deleted after this backup")
                    session.commit()
                    report.reapplied_shreds = len(shredded)
                    still = [sid for sid in shredded if vault_drill.readable(session, scratch, sid)]
                    report.add(
                        "shreds-reapplied", not still, f"{len(shredded)} subjects deleted after the backup are unreadable in the restore"
                    )
                    result = vault_drill.sample_decrypt(session, scratch, sample, random.Random(seed))  # noqa: S311 - sampling, not secrecy
                    report.sampled_subjects, report.sampled_fields = result.subjects, result.fields
                    report.add(
                        "sample-decrypt",
                        not result.failures,
                        f"{result.fields} fields of {result.subjects} subjects decrypted"
                        if not result.failures
                        else "; ".join(result.failures[:5]),
                    )
            finally:
                engine.dispose()


def _record(rt: Runtime, backup: Path, report: DrillReport, who: Principal, started: datetime, report_dir: Path | None) -> None:
    report.finished_at = rfc3339(rt.clock.now())
    if report_dir is not None:
        report_dir.mkdir(parents=True, exist_ok=True)
        (report_dir / f"{backup.name}.drill.json").write_text(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
        (report_dir / f"{backup.name}.drill.html").write_text(report.to_html())
    digest = hashlib.sha256(json.dumps(report.to_json(), sort_keys=True).encode()).hexdigest()
    with rt.sessions() as session:
        session.add(
            DrillRunRow(
                backup_name=backup.name,
                started_at=started,
                finished_at=rt.clock.now(),
                ok=report.ok,
                summary={"checks": [[c.name, c.ok] for c in report.checks], "report_sha256": digest},
            )
        )
        ledger.append(
            session,
            ledger.Entry(
                time=rt.clock.now(),
                actor=who.id,
                action="ops.restore_drill",
                object=f"backup:{backup.name}",
                decision="pass" if report.ok else "fail",
                details={"report_sha256": digest, "reapplied_shreds": report.reapplied_shreds},
            ),
        )
        session.commit()


def last_good_drill(rt: Runtime) -> datetime | None:
    with rt.sessions() as session:
        return session.scalar(
            select(DrillRunRow.finished_at).where(DrillRunRow.ok.is_(True)).order_by(DrillRunRow.finished_at.desc()).limit(1)
        )
