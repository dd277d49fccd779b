"""The worker's own jobs: the job list, maintenance chains, scheduled backups and drills, the drill-age alert,
and key material backed up apart from the data."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lendshield.clock import FrozenClock
from lendshield.crypto.backup_keys import decrypt_file, generate_identity, load_identity
from lendshield.ledger.models import LedgerCheckpoint, LedgerEntryRow
from lendshield.ops import jobs as ops_jobs
from lendshield.ops import queue
from lendshield.ops.backup import backup_key_material
from lendshield.ops.errors import BackupFailed
from lendshield.ops.models import DrillRunRow, JobRow
from lendshield.ops.queue import enqueue
from lendshield.principals import SYSTEM
from lendshield.runtime import Runtime
from lendshield.subjects import service as subjects


@pytest.fixture(autouse=True)
def _builtins() -> None:
    queue.load_handler_modules(list(ops_jobs.BUILTIN_JOB_MODULES))


def _actions(rt: Runtime, action: str) -> int:
    with rt.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(LedgerEntryRow).where(LedgerEntryRow.action == action)) or 0)


def _waiting(rt: Runtime, kind: str) -> list[JobRow]:
    with rt.sessions() as session:
        return list(session.scalars(select(JobRow).where(JobRow.kind == kind, JobRow.status == "queued")))


def test_the_worker_knows_every_builtin_job() -> None:
    kinds = set(queue.registered_kinds())
    wanted = {"ledger.integrate", "ops.drill_age", "ops.sweep_jobs", "collection.purge_recordings", "ops.backup", "ops.restore_drill"}
    wanted |= {"watch.run", "rights.deadline_alerts", "rights.retention_sweep"}
    assert wanted <= kinds


def test_maintenance_chains_start_once_and_requeue_themselves(rt: Runtime, make_actor, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
    writer = make_actor("loan_system")
    with rt.sessions() as session:
        subjects.create_subject(session, rt, writer.principal, kind="borrower", fields={"name": "测试", "mobile": "13800000001"})
        started = ops_jobs.ensure_maintenance(session, rt)
        assert started == [
            "ledger.integrate",
            "ops.drill_age",
            "ops.sweep_jobs",
            "ops.incident_sla",
            "collection.purge_recordings",
            "rights.deadline_alerts",
            "rights.retention_sweep",
            "watch.run",
        ]
        assert ops_jobs.ensure_maintenance(session, rt) == []  # a second worker starts nothing
        session.commit()

    assert queue.work(rt, once=True) == 7  # the watch's first run waits for its interval
    with rt.sessions() as session:
        signed = session.scalar(select(func.max(LedgerCheckpoint.size)))
        entries = session.scalar(select(func.count()).select_from(LedgerEntryRow))
    assert signed is not None
    assert signed >= 2  # the principal and the subject were integrated
    assert entries is not None
    assert entries >= signed
    # Each job queued its next run, one per chain, not yet due.
    for kind in started:
        (nxt,) = _waiting(rt, kind)
        assert nxt.run_at > clock.now()
    assert queue.work(rt, once=True) == 0
    clock.advance(timedelta(hours=1, seconds=1))
    # Hourly: integration, the drill-age and incident checks, the purge, rights deadlines and the watch; the sweeps are daily.
    assert queue.work(rt, once=True) == 6


def test_the_embedded_default_runs_scheduled_backups_and_the_queue_only_checks_in_process(
    rt: Runtime, make_actor, clock: FrozenClock, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """With no worker, the web process's runner (jobs_enabled) works the queue for the jobs only the
    queue carries, and leaves the rest (which it runs itself) to a worker, should one be started."""
    from lendshield.jobs import default_runner

    writer = make_actor("loan_system")
    with rt.sessions() as session:
        subjects.create_subject(session, rt, writer.principal, kind="borrower", fields={"name": "测试", "mobile": "13800000003"})
        recipient = generate_identity(tmp_path / "backup.key")
        enqueue(session, "ops.backup", {"recipient": recipient, "out_dir": str(tmp_path / "backups"), "every_s": 86400}, now=clock.now())
        enqueue(session, "ledger.integrate", {"every_s": 1.0}, now=clock.now(), unique_key="chain:ledger.integrate")  # a worker's chain
        session.commit()

    runner = default_runner(rt)
    runner.run_pending()  # one round, as the web process's runner thread does; the queue runs beside it
    runner.stop(60)  # waits for the queue work beside it
    assert len(list((tmp_path / "backups").glob("lendshield-*.backup"))) == 1
    assert _waiting(rt, "ops.backup")  # the next backup is scheduled
    for kind in ("ops.drill_age", "ops.sweep_jobs", "ops.incident_sla"):
        assert len(_waiting(rt, kind)) == 1, kind  # started, ran, and queued their next run
    assert _actions(rt, "ops.drill_overdue") == 0  # the deployment is new: its first drill is not due yet
    assert len(_waiting(rt, "ledger.integrate")) == 1  # the runner integrates itself; a worker's chain is the worker's
    assert ops_jobs.start_queue_only_chains(rt) == []  # already running: nothing new


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # backups and drills on PostgreSQL: test_backup_drill
def test_drill_age_alerts_until_a_good_drill_and_again_when_it_is_old(rt: Runtime, make_actor, clock: FrozenClock, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    writer = make_actor("loan_system")
    with rt.sessions() as session:
        subjects.create_subject(session, rt, writer.principal, kind="borrower", fields={"name": "测试", "mobile": "13800000002"})
        enqueue(session, "ops.drill_age", {"every_s": 3600}, now=clock.now())
        session.commit()
    assert queue.work(rt, once=True) == 1
    assert _actions(rt, "ops.drill_overdue") == 0  # a new deployment has drill_max_age_days for its first drill
    clock.advance(timedelta(days=rt.settings.drill_max_age_days, hours=1))
    assert queue.work(rt, once=True) == 1
    assert _actions(rt, "ops.drill_overdue") == 1  # never drilled, and in service longer than that: overdue
    clock.advance(timedelta(hours=1, seconds=1))
    assert queue.work(rt, once=True) == 1
    assert _actions(rt, "ops.drill_overdue") == 1  # still overdue: one alert per spell, not one an hour

    identity = tmp_path / "backup.key"
    recipient = generate_identity(identity)
    backups = tmp_path / "backups"
    with rt.sessions() as session:
        # Scheduled backup, then a scheduled drill of the newest backup, both run by the worker.
        enqueue(session, "ops.backup", {"recipient": recipient, "out_dir": str(backups), "every_s": 86400}, now=clock.now())
        session.commit()
    assert queue.work(rt, once=True) == 1
    assert len(list(backups.glob("lendshield-*.backup"))) == 1
    with rt.sessions() as session:
        payload = {"identity": str(identity), "backup_dir": str(backups), "every_s": 7 * 86400}  # reports: the default directory
        enqueue(session, "ops.restore_drill", payload, now=clock.now())
        session.commit()
    assert queue.work(rt, once=True) == 1
    with rt.sessions() as session:
        assert session.scalars(select(DrillRunRow.ok)).all() == [True]
    assert list((rt.settings.data_dir / "drills").glob("lendshield-*.backup.drill.json"))
    (next_backup,) = _waiting(rt, "ops.backup")
    assert next_backup.payload["recipient"] == recipient
    assert _waiting(rt, "ops.restore_drill")

    clock.advance(timedelta(hours=1, seconds=1))
    assert queue.work(rt, once=True) == 1  # the drill-age check only
    assert _actions(rt, "ops.drill_overdue") == 1  # a fresh good drill: no new alert
    assert ops_jobs.drill_overdue(rt, clock.now())[0] is False

    clock.advance(timedelta(days=rt.settings.drill_max_age_days, hours=1))
    ops_jobs.drill_overdue(rt, clock.now())
    with rt.sessions() as session:
        # Only the drill-age check is wanted here: push the backup and drill chains past this run.
        for row in session.scalars(select(JobRow).where(JobRow.kind.in_(("ops.backup", "ops.restore_drill")), JobRow.status == "queued")):
            row.run_at = clock.now() + timedelta(days=1)
        session.commit()
    assert queue.work(rt, once=True) == 1
    assert _actions(rt, "ops.drill_overdue") == 2


def test_key_material_is_backed_up_encrypted_and_never_beside_the_data(rt: Runtime, tmp_path: Path) -> None:
    custodian = tmp_path / "custodian.key"
    recipient = generate_identity(custodian)
    for wrong in (rt.settings.resolved_backup_dir(), rt.settings.resolved_backup_dir() / "keys", rt.settings.data_dir):
        with pytest.raises(BackupFailed):
            backup_key_material(rt, wrong, recipient, SYSTEM)

    out = backup_key_material(rt, tmp_path / "key-escrow", recipient, SYSTEM)
    raw = out.read_bytes()
    original = rt.settings.resolved_key_file().read_bytes()
    assert original[:20] not in raw  # encrypted, not a copy
    assert not list(out.parent.glob("*.partial"))
    restored = tmp_path / "restored.json"
    decrypt_file(out, restored, load_identity(custodian))
    assert restored.read_bytes() == original
    assert _actions(rt, "ops.backup_keys") == 1
