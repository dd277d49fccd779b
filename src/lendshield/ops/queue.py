"""A durable job queue in the database: no Redis or Celery needed.

Workers claim jobs with a lease. On PostgreSQL the claim uses ``FOR UPDATE SKIP LOCKED`` so any
number of `lendshield worker` processes share the queue without blocking each other; on SQLite
the database write lock (``BEGIN IMMEDIATE``) serialises claims. A worker killed mid-job leaves
its lease to run out, and another worker takes the job again. The job's effect and its completion
commit in one transaction, guarded by the lease owner, so a job's database effects happen once.
"""

from __future__ import annotations

import importlib
import socket
import time
import traceback
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from lendshield.ops.models import JobRow
from lendshield.runtime import Runtime

Handler = Callable[[Session, Runtime, dict[str, Any]], None]
_HANDLERS: dict[str, Handler] = {}
DEFAULT_LEASE = timedelta(minutes=5)


def job(kind: str) -> Callable[[Handler], Handler]:
    """Register a handler for ``kind``. Handlers never commit: the queue commits with the completion."""

    def register(fn: Handler) -> Handler:
        _HANDLERS[kind] = fn
        return fn

    return register


def registered_kinds() -> list[str]:
    return sorted(_HANDLERS)


def load_handler_modules(modules: list[str]) -> None:
    for name in modules:
        importlib.import_module(name)


@dataclass(frozen=True)
class Claimed:
    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int


def enqueue(
    session: Session,
    kind: str,
    payload: dict[str, Any],
    *,
    now: datetime,
    run_at: datetime | None = None,
    unique_key: str | None = None,
    max_attempts: int = 5,
) -> int | None:
    """Add a job; with ``unique_key`` an equal job still waiting makes this a no-op (returns None)."""
    if unique_key is not None:
        waiting = session.scalar(select(JobRow.id).where(JobRow.unique_key == unique_key, JobRow.status.in_(("queued", "running"))))
        if waiting is not None:
            return None
    row = JobRow(
        kind=kind,
        payload=payload,
        run_at=run_at or now,
        status="queued",
        attempts=0,
        max_attempts=max_attempts,
        lease_until=None,
        locked_by=None,
        last_error=None,
        created_at=now,
        finished_at=None,
        unique_key=unique_key,
    )
    session.add(row)
    session.flush()
    return row.id


def claim(
    session: Session, worker: str, now: datetime, lease: timedelta = DEFAULT_LEASE, kinds: Collection[str] | None = None
) -> Claimed | None:
    """Take the next due job (or one whose worker's lease ran out) and lease it to ``worker``;
    with ``kinds``, only a job of those kinds."""
    query = (
        select(JobRow)
        .where(
            or_(
                (JobRow.status == "queued") & (JobRow.run_at <= now),
                (JobRow.status == "running") & (JobRow.lease_until < now),
            )
        )
        .order_by(JobRow.run_at, JobRow.id)
        .limit(1)
    )
    if kinds is not None:
        query = query.where(JobRow.kind.in_(list(kinds)))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    row = session.scalars(query).first()
    if row is None:
        return None
    if row.attempts >= row.max_attempts:
        row.status, row.finished_at = "failed", now
        row.last_error = (row.last_error or "") + " | gave up: lease expired on the last attempt"
        return None
    row.status, row.locked_by, row.lease_until, row.attempts = "running", worker, now + lease, row.attempts + 1
    return Claimed(row.id, row.kind, dict(row.payload), row.attempts)


def run_one(rt: Runtime, worker: str, lease: timedelta = DEFAULT_LEASE, kinds: Collection[str] | None = None) -> bool:
    """Claim and run one job (of ``kinds``, if given); returns False when nothing was due."""
    with rt.sessions() as session:
        claimed = claim(session, worker, rt.clock.now(), lease, kinds)
        session.commit()
    if claimed is None:
        return False
    handler = _HANDLERS.get(claimed.kind)
    with rt.sessions() as session:
        try:
            if handler is None:
                raise LookupError(f"no handler for job kind {claimed.kind!r}")
            handler(session, rt, claimed.payload)
            done = session.execute(
                update(JobRow)
                .where(JobRow.id == claimed.id, JobRow.locked_by == worker, JobRow.status == "running")
                .values(status="done", finished_at=rt.clock.now(), lease_until=None)
            )
            if getattr(done, "rowcount", 0) != 1:
                session.rollback()  # our lease was taken over: the other worker's run counts, not ours
                return True
            session.commit()
        except Exception as exc:
            session.rollback()
            _record_failure(rt, claimed, worker, exc)
    return True


def _record_failure(rt: Runtime, claimed: Claimed, worker: str, exc: Exception) -> None:
    # Only the exception type and frame names: messages may carry personal data.
    where = "; ".join(f"{f.name}:{f.lineno}" for f in traceback.extract_tb(exc.__traceback__)[-3:])
    with rt.sessions() as session:
        row = session.get(JobRow, claimed.id)
        if row is not None and row.locked_by == worker:
            final = row.attempts >= row.max_attempts
            row.status = "failed" if final else "queued"
            row.run_at = rt.clock.now() + timedelta(seconds=min(2**row.attempts, 3600))
            row.lease_until, row.locked_by = None, None
            row.last_error = f"{type(exc).__name__} at {where}"[:500]
            row.finished_at = rt.clock.now() if final else None
            session.commit()


def worker_id() -> str:
    return f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"


def work(
    rt: Runtime, *, once: bool = False, idle_sleep: float = 1.0, lease: timedelta = DEFAULT_LEASE, kinds: Collection[str] | None = None
) -> int:
    """The worker loop: run due jobs (of ``kinds``, if given) until stopped (or until none is due, with ``once``)."""
    me = worker_id()
    ran = 0
    while True:
        if run_one(rt, me, lease, kinds):
            ran += 1
            continue
        if once:
            return ran
        time.sleep(idle_sleep)
