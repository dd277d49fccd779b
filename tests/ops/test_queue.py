"""The database job queue: leases, retries, SKIP LOCKED, and a worker killed mid-job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from lendshield.clock import FrozenClock
from lendshield.ledger.models import LedgerEntryRow
from lendshield.ops import queue
from lendshield.ops.models import JobRow
from lendshield.runtime import Runtime
from tests.ops import jobs_for_tests


def _entries(rt: Runtime, name: str) -> int:
    with rt.sessions() as session:
        return len(
            session.scalars(select(LedgerEntryRow.seq).where(LedgerEntryRow.action == "test.job", LedgerEntryRow.body.contains(name))).all()
        )


def test_a_job_runs_once_and_its_effect_commits_with_it(rt: Runtime) -> None:
    with rt.sessions() as session:
        queue.enqueue(session, "test.record", {"name": "alpha"}, now=rt.clock.now())
        session.commit()
    assert queue.work(rt, once=True) == 1
    assert queue.work(rt, once=True) == 0
    assert _entries(rt, "alpha") == 1
    with rt.sessions() as session:
        assert session.scalars(select(JobRow.status)).one() == "done"


def test_unique_key_deduplicates_waiting_jobs(rt: Runtime) -> None:
    with rt.sessions() as session:
        first = queue.enqueue(session, "test.record", {"name": "b"}, now=rt.clock.now(), unique_key="daily-sweep")
        second = queue.enqueue(session, "test.record", {"name": "b"}, now=rt.clock.now(), unique_key="daily-sweep")
        session.commit()
    assert first is not None
    assert second is None


def test_failures_are_retried_with_backoff_and_logged_without_messages(rt: Runtime, clock: FrozenClock) -> None:
    with rt.sessions() as session:
        queue.enqueue(session, "test.fail", {}, now=rt.clock.now(), max_attempts=2)
        session.commit()
    queue.work(rt, once=True)
    with rt.sessions() as session:
        row = session.scalars(select(JobRow)).one()
        assert row.status == "queued"
        assert row.last_error is not None
        assert row.last_error.startswith("RuntimeError")
        assert "11010519491231002X" not in row.last_error
    assert queue.work(rt, once=True) == 0  # backing off
    clock.advance(timedelta(seconds=5))
    queue.work(rt, once=True)
    with rt.sessions() as session:
        assert session.scalars(select(JobRow.status)).one() == "failed"


def test_a_worker_killed_mid_job_leaves_it_to_another_and_it_is_done_once(rt: Runtime, clock: FrozenClock, tmp_path: Path) -> None:
    flag = tmp_path / "started"
    clock.set(datetime.now(UTC))  # the worker process runs on the real clock; start ours from it
    with rt.sessions() as session:
        payload = {"name": "gamma", "started_flag": str(flag), "sleep": 60}
        queue.enqueue(session, "test.block_then_record", payload, now=clock.now())
        session.commit()
    env = os.environ | {
        "LENDSHIELD_DATA_DIR": str(rt.settings.data_dir),
        "LENDSHIELD_DATABASE_URL": rt.settings.resolved_database_url(),
        "LENDSHIELD_JOB_MODULES": '["tests.ops.jobs_for_tests"]',
        "LENDSHIELD_JOB_LEASE_S": "30",
    }
    worker = [sys.executable, "-m", "lendshield.cli", "worker", "--no-maintenance"]  # only the job under test
    proc = subprocess.Popen(worker, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not flag.exists():
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the worker never started the job"
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert _entries(rt, "gamma") == 0
    with rt.sessions() as session:
        row = session.scalars(select(JobRow)).one()
        assert row.status == "running"  # leased by a dead worker
    assert queue.work(rt, once=True) == 0  # the dead worker's lease has not run out yet
    assert row.lease_until is not None
    clock.set(row.lease_until + timedelta(seconds=1))
    with rt.sessions() as session:
        job_row = session.scalars(select(JobRow)).one()
        job_row.payload = {"name": "gamma", "started_flag": str(flag), "sleep": 0}
        session.commit()
    assert queue.work(rt, once=True) == 1
    assert _entries(rt, "gamma") == 1
    with rt.sessions() as session:
        final = session.scalars(select(JobRow)).one()
    assert final.status == "done"
    assert final.attempts == 2


def test_a_stale_worker_cannot_complete_a_job_taken_over(rt: Runtime, clock: FrozenClock) -> None:
    with rt.sessions() as session:
        queue.enqueue(session, "test.record", {"name": "delta"}, now=clock.now())
        session.commit()
    with rt.sessions() as session:
        first = queue.claim(session, "worker-a", clock.now(), timedelta(seconds=10))
        session.commit()
    assert first is not None
    clock.advance(timedelta(seconds=11))
    assert queue.run_one(rt, "worker-b", timedelta(seconds=10))  # takes over and completes
    # worker-a finally tries to finish: its completion matches no row, its effect is rolled back
    with rt.sessions() as session:
        jobs_for_tests.record(session, rt, {"name": "delta"})
        from sqlalchemy import update

        done = session.execute(
            update(JobRow).where(JobRow.id == first.id, JobRow.locked_by == "worker-a", JobRow.status == "running").values(status="done")
        )
        assert getattr(done, "rowcount", 0) == 0
        session.rollback()
    assert _entries(rt, "delta") == 1


def test_postgresql_workers_skip_each_others_locked_jobs(rt: Runtime, clock: FrozenClock) -> None:
    import pytest

    if rt.engine.dialect.name != "postgresql":
        pytest.skip("FOR UPDATE SKIP LOCKED is PostgreSQL's; SQLite serialises claims with its write lock")
    with rt.sessions() as session:
        for name in ("one", "two"):
            queue.enqueue(session, "test.record", {"name": name}, now=clock.now())
        session.commit()
    first_session = rt.sessions()
    second_session = rt.sessions()
    try:
        first = queue.claim(first_session, "worker-a", clock.now())  # holds its row lock, uncommitted
        second = queue.claim(second_session, "worker-b", clock.now())  # must not wait for it
        assert first is not None
        assert second is not None
        assert first.id != second.id
    finally:
        first_session.rollback()
        second_session.rollback()
        first_session.close()
        second_session.close()
