"""In-process jobs run in one process of a deployment: the runner holding the lock file runs
its tasks, the others wait and take over when it stops (issue 10: API processes on one host
must not each run the integrator and the watch)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

from lendshield.jobs.runner import PeriodicRunner


def _counting_runner(lock: Path, hits: list[str], name: str) -> PeriodicRunner:
    runner = PeriodicRunner(lock_path=lock)
    runner.every(0.05, "count", lambda: hits.append(name))
    return runner


def _wait_for(cond: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return False


def test_only_the_lock_holder_runs_and_the_other_takes_over(tmp_path: Path) -> None:
    lock = tmp_path / "jobs.lock"
    hits: list[str] = []
    first, second = _counting_runner(lock, hits, "first"), _counting_runner(lock, hits, "second")
    first.start()
    assert _wait_for(lambda: "first" in hits)
    second.start()
    time.sleep(0.5)
    assert first.leading
    assert not second.leading
    assert "second" not in hits
    first.stop()
    assert not first.leading
    assert _wait_for(lambda: "second" in hits, timeout=3.0), "the waiting runner never took over"
    second.stop()


def test_a_killed_holder_process_releases_the_lock(tmp_path: Path) -> None:
    """The kernel drops a flock when its process dies, even by SIGKILL: another process leads."""
    lock = tmp_path / "jobs.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import time
                from pathlib import Path
                from lendshield.jobs.runner import PeriodicRunner
                r = PeriodicRunner(lock_path=Path({str(lock)!r}))
                r.every(0.05, "tick", lambda: None)
                r.start()
                print("started", flush=True)
                time.sleep(60)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "started"
        hits: list[str] = []
        waiting = _counting_runner(lock, hits, "waiting")
        waiting.start()
        time.sleep(0.6)
        assert holder.poll() is None
        assert hits == []
        assert not waiting.leading
        holder.kill()
        holder.wait(5)
        assert _wait_for(lambda: "waiting" in hits, timeout=3.0)
        waiting.stop()
    finally:
        if holder.poll() is None:
            holder.kill()


def test_without_a_lock_file_every_runner_runs(tmp_path: Path) -> None:
    hits: list[str] = []
    runners = [PeriodicRunner(), PeriodicRunner()]
    for i, r in enumerate(runners):
        r.every(0.05, "count", lambda i=i: hits.append(str(i)))  # type: ignore[misc]
        r.start()
    assert _wait_for(lambda: {"0", "1"} <= set(hits))
    for r in runners:
        r.stop()


def test_an_unwritable_lock_location_falls_back_to_running(tmp_path: Path) -> None:
    hits: list[str] = []
    runner = _counting_runner(tmp_path / "missing-dir" / "jobs.lock", hits, "only")
    runner.start()
    assert _wait_for(lambda: "only" in hits)
    assert runner.leading
    runner.stop()


def test_a_task_run_beside_does_not_hold_up_the_others_and_never_overlaps_itself() -> None:
    """A backup or a drill from the queue may take minutes: the integrator keeps its pace meanwhile."""
    import threading

    release = threading.Event()
    slow_runs: list[float] = []
    ticks: list[float] = []

    def slow() -> None:
        slow_runs.append(time.monotonic())
        release.wait(5)

    runner = PeriodicRunner()
    runner.every(0.05, "slow", slow, beside=True)
    runner.every(0.05, "tick", lambda: ticks.append(time.monotonic()))
    runner.start()
    try:
        assert _wait_for(lambda: len(ticks) >= 10), "the other task was held up"
        assert len(slow_runs) == 1  # still running: later ticks of it were skipped, not stacked
        release.set()
        assert _wait_for(lambda: len(slow_runs) >= 2)
        release.clear()  # the next run blocks until set, and stop() waits for it
        assert _wait_for(lambda: len(slow_runs) >= 3)
        threading.Timer(0.3, release.set).start()
        runner.stop(5)
        assert release.is_set()  # stop() returned only once the run beside had been let finish
        assert not [t for t in threading.enumerate() if t.name == "lendshield-slow" and t.is_alive()]
    finally:
        release.set()
        runner.stop()
