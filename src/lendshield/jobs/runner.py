"""A small periodic runner: each task runs every ``interval`` seconds on one daemon thread.

A failing task is logged and retried at its next tick: nothing a task raises stops the runner
(the issue: "nothing crashes the integrator"). With a lock file, only the process holding it runs
the tasks, so ``lendshield serve --workers N`` on one host runs its jobs once, not N times; the
others try again every second and take over when the holder exits (the kernel drops the lock).
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lendshield.runtime import Runtime
from lendshield.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class _Task:
    name: str
    interval: float
    fn: Callable[[], object]
    due: float = 0.0


def _log_failure(name: str, exc: Exception) -> None:
    # The name and the kind of failure in the message itself (extra fields are dropped by plain
    # formatters); the exception text stays out, it may quote input.
    log.error("job %s failed: %s", name, type(exc).__name__, extra={"job": name, "error": type(exc).__name__})


class _Beside:
    """Runs ``fn`` on a thread of its own, one run at a time; a tick while it runs is skipped.

    For tasks that may take minutes (a backup, a restore drill) so that they never hold up the
    ledger integrator on the runner's thread.
    """

    def __init__(self, name: str, fn: Callable[[], object]) -> None:
        self.name, self.fn = name, fn
        self._busy = threading.Lock()
        self._thread: threading.Thread | None = None

    def __call__(self) -> None:
        if not self._busy.acquire(blocking=False):
            return  # the last run is still going
        self._thread = threading.Thread(target=self._run, name=f"lendshield-{self.name}", daemon=True)
        self._thread.start()

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        try:
            self.fn()
        except Exception as exc:  # as on the runner's own thread: logged, tried again at the next tick
            _log_failure(self.name, exc)
        finally:
            self._busy.release()


class PeriodicRunner:
    def __init__(self, lock_path: Path | None = None) -> None:
        self._tasks: list[_Task] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock_path = lock_path
        self._lock_fd: int | None = None

    @property
    def leading(self) -> bool:
        """Whether this runner runs its tasks (always, without a lock file)."""
        return self._lock_path is None or self._lock_fd is not None

    def _try_lead(self) -> bool:
        if self.leading:
            return True
        assert self._lock_path is not None
        try:
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:  # no writable data directory: run as before, one runner per process
            log.warning("jobs lock file unavailable, running jobs without it: %s", type(exc).__name__)
            self._lock_path = None
            return True
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._lock_fd = fd
        log.info("in-process jobs run in this process", extra={"pid": os.getpid()})
        return True

    def _release(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor drops the flock
            self._lock_fd = None

    def every(self, interval: float, name: str, fn: Callable[[], object], *, beside: bool = False) -> None:
        """Run ``fn`` every ``interval`` seconds; with ``beside``, on a thread of its own (``_Beside``)."""
        self._tasks.append(_Task(name, interval, _Beside(name, fn) if beside else fn))

    def run_pending(self) -> None:
        now = time.monotonic()
        for task in self._tasks:
            if now < task.due:
                continue
            task.due = now + task.interval
            try:
                task.fn()
            except Exception as exc:  # a task must never kill the runner; say which and why
                _log_failure(task.name, exc)

    def _loop(self) -> None:
        while not self._stop.is_set():
            if not self._try_lead():
                self._stop.wait(1.0)
                continue
            self.run_pending()
            wait = min((t.due for t in self._tasks), default=time.monotonic() + 1.0) - time.monotonic()
            self._stop.wait(max(0.05, wait))

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="lendshield-jobs", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop ticking, and wait up to ``timeout`` for a run in progress, beside ones included."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        for task in self._tasks:
            if isinstance(task.fn, _Beside):
                task.fn.join(timeout)
        self._release()


def jobs_wanted(settings: Settings) -> bool:
    """Whether a web process starts the in-process jobs.

    ``jobs_enabled`` (default True) decides; under ``environment="test"`` the jobs stay off
    unless a test sets ``jobs_enabled=True`` explicitly, so that a background integrator never
    adds rows behind the back of a test that counts them.
    """
    if settings.environment == "test" and "jobs_enabled" not in settings.model_fields_set:
        return False
    return settings.jobs_enabled


def default_runner(rt: Runtime) -> PeriodicRunner:
    """The jobs every LendShield web process runs."""
    from lendshield.collection.recordings import purge_job
    from lendshield.ledger.tree import integrate_all
    from lendshield.ops.jobs import start_queue_only_chains, work_in_process
    from lendshield.rights.alerts import deadline_alerts
    from lendshield.rights.retention import sweep_job
    from lendshield.watch.jobs import schedule as schedule_watch

    # One runner per data directory: the processes of one deployment on one host share it.
    runner = PeriodicRunner(lock_path=rt.settings.data_dir / "jobs.lock")
    runner.every(rt.settings.ledger_integrate_interval_s, "ledger.integrate", lambda: integrate_all(rt))
    schedule_watch(runner, rt)
    # Deadlines and retention are counted in days: hourly and daily checks are soon enough.
    runner.every(3600, "collection.purge_recordings", lambda: purge_job(rt))
    runner.every(3600, "rights.deadline_alerts", lambda: deadline_alerts(rt))
    runner.every(86_400, "rights.retention_sweep", lambda: sweep_job(rt))
    # Scheduled backups and drills, the drill-age and incident-deadline alerts: from the queue.
    runner.every(600, "ops.queue_chains", lambda: start_queue_only_chains(rt))
    runner.every(5, "ops.queue", lambda: work_in_process(rt), beside=True)  # a backup must not hold up integration
    return runner
