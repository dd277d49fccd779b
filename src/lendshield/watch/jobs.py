"""The watch as background work: the periodic tasks and the queue jobs ``watch.run`` and ``watch.deliver``.

Web processes run the watch every ``interval_seconds`` and the alert outbox every
``alert_delivery_interval_s`` (``jobs.runner.default_runner`` calls ``schedule``). Deployments
that run `lendshield worker` instead start both chains once with `lendshield watch schedule`
(workers load this module); each run queues the next.
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
from lendshield.watch import config, delivery, engine
from lendshield.watch.errors import WatchConfigInvalid

KIND = "watch.run"
DELIVER_KIND = "watch.deliver"
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
    # The outbox is read even with no channel configured: rows of an earlier configuration
    # still wait there, and an idle check is one indexed query.
    runner.every(rt.settings.alert_delivery_interval_s, DELIVER_KIND, lambda: delivery.deliver_due(rt))


def _queue(session: Session, rt: Runtime, kind: str, every_s: float) -> int | None:
    waiting = session.scalar(select(JobRow.id).where(JobRow.kind == kind, JobRow.status == "queued"))
    if waiting is not None:
        return None
    now = rt.clock.now()
    return enqueue(session, kind, {}, now=now, run_at=now + timedelta(seconds=every_s))


def queue_next(session: Session, rt: Runtime) -> int | None:
    """Queue the next watch run unless one is already waiting; returns its job id (None if one waits).

    With a delivery channel configured, the outbox chain is started too if it is not running,
    so workers that run the watch also deliver its alerts.
    """
    if delivery.channels(rt.settings):
        queue_delivery(session, rt)
    return _queue(session, rt, KIND, config.for_runtime(rt).interval_seconds)


def queue_delivery(session: Session, rt: Runtime) -> int | None:
    """Queue the next pass over the alert outbox unless one is already waiting."""
    return _queue(session, rt, DELIVER_KIND, rt.settings.alert_delivery_interval_s)


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


@job(DELIVER_KIND)
def deliver_job(session: Session, rt: Runtime, payload: dict[str, Any]) -> None:
    """Send what the outbox has due (its own transactions, one per outcome), then queue the next pass.

    Sending happens before this job's session writes anything, so on SQLite the outcomes never
    wait for the job's own write lock.
    """
    delivery.deliver_due(rt)
    queue_delivery(session, rt)
