"""The watch as background work: the in-process periodic task and the queue job ``watch.run``.

Web processes run it every ``interval_seconds`` (``jobs.runner.default_runner``). Deployments
that run `lendshield worker` instead list ``lendshield.watch.jobs`` in ``LENDSHIELD_JOB_MODULES``
and start the chain once with `lendshield watch schedule`; each run queues the next.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lendshield.jobs.runner import PeriodicRunner
from lendshield.ops.models import JobRow
from lendshield.ops.queue import enqueue, job
from lendshield.runtime import Runtime
from lendshield.watch import config, engine
from lendshield.watch.errors import WatchConfigInvalid

KIND = "watch.run"
DEFAULT_INTERVAL_S = 5.0


def schedule(runner: PeriodicRunner, rt: Runtime) -> None:
    """Add the watch to a process's periodic runner.

    A broken watch.yaml must not stop the web process from starting: the task then fails at
    each tick with the file's error in the log, until the file is fixed (it is re-read).
    """
    try:
        interval = config.for_runtime(rt).interval_seconds
    except WatchConfigInvalid:
        interval = DEFAULT_INTERVAL_S
    history = engine.History()  # kept between ticks: each run reads only what is new
    runner.every(interval, KIND, lambda: engine.run(rt, history=history))


def queue_next(session: Session, rt: Runtime) -> int | None:
    """Queue the next run unless one is already waiting; returns its job id (None if one waits)."""
    waiting = session.scalar(select(JobRow.id).where(JobRow.kind == KIND, JobRow.status == "queued"))
    if waiting is not None:
        return None
    now = rt.clock.now()
    return enqueue(session, KIND, {}, now=now, run_at=now + timedelta(seconds=config.for_runtime(rt).interval_seconds))


@job(KIND)
def run_job(session: Session, rt: Runtime, payload: dict[str, Any]) -> None:
    """One pass in the queue's transaction (committed with the job's completion), then the next."""
    cfg = config.for_runtime(rt)
    history = engine.History()
    for _ in range(50):  # bounded: one job's transaction stays small; the next run continues
        processed, _ = engine.run_batch(session, rt, cfg, history)
        if processed == 0:
            break
    queue_next(session, rt)
