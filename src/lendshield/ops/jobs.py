"""LendShield's own jobs for `lendshield worker`, and the schedules that chain them.

Each periodic job queues its next run in the transaction that completes it (``unique_key`` keeps
one waiting run per chain), so any number of workers share a schedule without running it twice.

| kind | what | default period |
|---|---|---|
| ``ledger.integrate`` | integrate appended entries into the tree and sign a checkpoint | ``ledger_integrate_interval_s`` |
| ``ops.drill_age`` | alert (ledger entry, error log) once when the last good drill gets older than ``drill_max_age_days`` | 1 hour |
| ``ops.sweep_jobs`` | delete finished job rows older than 7 days (the queue's own retention) | 1 day |
| ``ops.incident_sla`` | alert (ledger entry, error log) once per incident whose regulator notice is overdue | 1 hour |
| ``collection.purge_recordings`` | delete collection evidence past ``collection_retention_days`` | 1 hour |
| ``rights.deadline_alerts`` | alert on rights requests near or past their deadline | 1 hour |
| ``rights.retention_sweep`` | the retention sweep of the rights package | 1 day |
| ``ops.backup`` | `lendshield backup` to a recipient (scheduled with `lendshield jobs schedule-backups`) | as scheduled |
| ``ops.restore_drill`` | drill the newest backup (scheduled with `lendshield jobs schedule-drills`) | as scheduled |
| ``watch.run`` | insider watch (``lendshield.watch.jobs``) | watch.yaml |

In the embedded default (``jobs_enabled``) the web process's runner works the queue for the jobs
that only the queue carries (``IN_PROCESS_KINDS``: scheduled backups and drills, the drill-age and
incident-deadline alerts, the queue's sweep); the others it runs itself (``jobs.runner``).
"""

from __future__ import annotations

import importlib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from lendshield import ledger
from lendshield.errors import LendShieldError
from lendshield.ledger.entry import rfc3339
from lendshield.ops.models import JobRow
from lendshield.ops.queue import enqueue, job
from lendshield.principals import SYSTEM
from lendshield.runtime import Runtime

BUILTIN_JOB_MODULES = ("lendshield.ops.jobs", "lendshield.watch.jobs")
"""Loaded by every worker, before the ``job_modules`` plug-ins."""

HOUR = 3600.0
DAY = 24 * HOUR
JOB_HISTORY = timedelta(days=7)
log = structlog.get_logger("lendshield.ops.jobs")


def chain(session: Session, rt: Runtime, kind: str, payload: dict[str, Any], every_s: float, *, now: datetime | None = None) -> int | None:
    """Queue the next run of a periodic job ``every_s`` from now, unless one is already waiting."""
    now = now or rt.clock.now()
    key = f"chain:{kind}"
    # Called from the running job itself, whose row holds the key: only a queued run counts here.
    if session.scalar(select(JobRow.id).where(JobRow.unique_key == key, JobRow.status == "queued")) is not None:
        return None
    job_id = enqueue(session, kind, payload | {"every_s": every_s}, now=now, run_at=now + timedelta(seconds=every_s))
    row = session.get(JobRow, job_id)
    if row is not None:
        row.unique_key = key
    return job_id


def ensure_maintenance(session: Session, rt: Runtime) -> list[str]:
    """Start the maintenance chains that are not running yet; returns the kinds started.

    Together they are everything a web process's in-process runner does (``jobs.runner``), so API
    processes can run with ``jobs_enabled=False`` while workers keep the log signed, the watch
    watching and evidence retention applied.
    """
    from lendshield.watch import jobs as watch_jobs

    chains = (
        ("ledger.integrate", rt.settings.ledger_integrate_interval_s),
        *QUEUE_ONLY_CHAINS,
        *((kind, every) for kind, (_m, _n, every) in DOMAIN_PERIODIC.items()),
    )
    started = _start_chains(session, rt, chains)
    if watch_jobs.queue_next(session, rt) is not None:
        started.append(watch_jobs.KIND)
    return started


QUEUE_ONLY_CHAINS = (("ops.drill_age", HOUR), ("ops.sweep_jobs", DAY), ("ops.incident_sla", HOUR))
"""Maintenance the web runner does not do itself: in the embedded default it works the queue for them."""
IN_PROCESS_KINDS = ("ops.backup", "ops.restore_drill", *(kind for kind, _every in QUEUE_ONLY_CHAINS))


def _start_chains(session: Session, rt: Runtime, chains: tuple[tuple[str, float], ...]) -> list[str]:
    now = rt.clock.now()
    started = []
    for kind, every_s in chains:
        if enqueue(session, kind, {"every_s": every_s}, now=now, unique_key=f"chain:{kind}") is not None:
            started.append(kind)
    return started


def start_queue_only_chains(rt: Runtime) -> list[str]:
    """For the web runner: start the chains of ``QUEUE_ONLY_CHAINS`` that are not running."""
    with rt.sessions() as session:
        started = _start_chains(session, rt, QUEUE_ONLY_CHAINS)
        session.commit()
    return started


def work_in_process(rt: Runtime) -> int:
    """For the web runner: the embedded default's share of the queue, every due job of
    ``IN_PROCESS_KINDS``. Returns how many ran."""
    from lendshield.ops import queue

    return queue.work(rt, once=True, kinds=IN_PROCESS_KINDS)


@job("ledger.integrate")
def integrate(session: Session, rt: Runtime, payload: dict[str, Any]) -> None:
    from lendshield.ledger.tree import integrate_all

    integrate_all(rt)  # its own transactions; integration is idempotent, so a retried run is harmless
    chain(session, rt, "ledger.integrate", {}, float(payload.get("every_s", rt.settings.ledger_integrate_interval_s)))


def in_service_since(rt: Runtime) -> datetime | None:
    """When this database began keeping records: the time of its first ledger entry (None: none yet)."""
    from lendshield.ledger.models import LedgerEntryRow

    with rt.sessions() as session:
        return session.scalar(select(LedgerEntryRow.time).order_by(LedgerEntryRow.seq).limit(1))


def drill_overdue(rt: Runtime, now: datetime) -> tuple[bool, datetime | None]:
    """Whether the last good restore drill is older than ``drill_max_age_days``; with no drill yet,
    whether the deployment is (a new one has that long for its first drill). Returns the last good drill too."""
    from lendshield.ops.drill import last_good_drill

    last = last_good_drill(rt)
    since = last if last is not None else in_service_since(rt)
    return since is not None and now - since > timedelta(days=rt.settings.drill_max_age_days), last


@job("ops.drill_age")
def drill_age(session: Session, rt: Runtime, payload: dict[str, Any]) -> None:
    now = rt.clock.now()
    overdue, last = drill_overdue(rt, now)
    # One alert per overdue spell (keyed by the last good drill), not one an hour: the chain's payload
    # carries what was alerted, and /metrics shows the state for as long as it lasts.
    spell = rfc3339(last) if last else "never"
    alerted = overdue and payload.get("alerted_for") == spell
    if overdue and not alerted:
        # The seed: 定期对数据实行备份和恢复测试 (regular backups and recovery tests). An overdue drill
        # is recorded where auditors look, and logged at error level for the operator's alerting.
        log.error("restore_drill_overdue", last_good=rfc3339(last) if last else None, max_age_days=rt.settings.drill_max_age_days)
        ledger.append(
            session,
            ledger.Entry(
                time=now,
                actor=SYSTEM.id,
                action="ops.drill_overdue",
                object="restore-drill",
                decision="alert",
                details={"last_good": rfc3339(last) if last else None, "max_age_days": rt.settings.drill_max_age_days},
            ),
        )
    chain(session, rt, "ops.drill_age", {"alerted_for": spell} if overdue else {}, float(payload.get("every_s", HOUR)))


@job("ops.incident_sla")
def incident_sla(session: Session, rt: Runtime, payload: dict[str, Any]) -> None:
    from lendshield.ops.incidents import overdue_incidents, regulator_notice_due

    now = rt.clock.now()
    for incident in overdue_incidents(session, rt, now):
        if incident.notice_overdue_alerted_at is not None:
            continue  # one alert per incident; the console and /metrics keep showing it
        due = rfc3339(regulator_notice_due(rt, incident))
        log.error("incident_notice_overdue", incident=incident.id, due=due)
        ledger.append(
            session,
            ledger.Entry(
                time=now,
                actor=SYSTEM.id,
                action="incident.notice_overdue",
                object=f"incident:{incident.id}",
                decision="alert",
                details={"due": due, "notice_hours": rt.settings.incident_notice_hours},
            ),
        )
        incident.notice_overdue_alerted_at = now
    chain(session, rt, "ops.incident_sla", {}, float(payload.get("every_s", HOUR)))


@job("ops.sweep_jobs")
def sweep_jobs(session: Session, rt: Runtime, payload: dict[str, Any]) -> None:
    cutoff = rt.clock.now() - JOB_HISTORY
    session.execute(delete(JobRow).where(JobRow.status == "done", JobRow.finished_at < cutoff))
    chain(session, rt, "ops.sweep_jobs", {}, float(payload.get("every_s", DAY)))


# Domain jobs that also run in the web process's runner (``jobs.runner.default_runner``): each
# takes the runtime and commits its own transaction, and each is safe to run again.
DOMAIN_PERIODIC: dict[str, tuple[str, str, float]] = {
    "collection.purge_recordings": ("lendshield.collection.recordings", "purge_job", HOUR),
    "rights.deadline_alerts": ("lendshield.rights.alerts", "deadline_alerts", HOUR),
    "rights.retention_sweep": ("lendshield.rights.retention", "sweep_job", DAY),
}


def _domain_job(kind: str, module: str, name: str, default_every_s: float) -> None:
    @job(kind)
    def run(session: Session, rt: Runtime, payload: dict[str, Any]) -> None:
        getattr(importlib.import_module(module), name)(rt)
        chain(session, rt, kind, {}, float(payload.get("every_s", default_every_s)))


for _kind, (_module, _name, _every) in DOMAIN_PERIODIC.items():
    _domain_job(_kind, _module, _name, _every)


@job("ops.backup")
def scheduled_backup(session: Session, rt: Runtime, payload: dict[str, Any]) -> None:
    from lendshield.ops.backup import make_backup

    out = Path(payload["out_dir"]) if payload.get("out_dir") else rt.settings.resolved_backup_dir()
    result = make_backup(rt, out, str(payload["recipient"]), SYSTEM)  # logged in its own transaction
    log.info("scheduled_backup", backup=result.path.name)
    chain(session, rt, "ops.backup", {k: v for k, v in payload.items() if k != "every_s"}, float(payload["every_s"]))


def newest_backup(directory: Path) -> Path | None:
    found = sorted(directory.glob("lendshield-*.backup"))  # names carry the UTC time, so they sort by age
    return found[-1] if found else None


@job("ops.restore_drill")
def scheduled_drill(session: Session, rt: Runtime, payload: dict[str, Any]) -> None:
    from lendshield.ops.drill import restore_drill

    backups = Path(payload["backup_dir"]) if payload.get("backup_dir") else rt.settings.resolved_backup_dir()
    backup = newest_backup(backups)
    if backup is None:
        log.error("restore_drill_no_backup")  # the drill-age alert follows if this goes on
    else:
        try:
            report = restore_drill(
                rt,
                backup,
                Path(payload["identity"]),
                SYSTEM,
                sample=int(payload.get("sample", 25)),
                report_dir=Path(payload["report_dir"]) if payload.get("report_dir") else rt.settings.resolved_drill_report_dir(),
            )
            log.info("scheduled_drill", backup=backup.name, ok=report.ok)
        except LendShieldError as exc:  # a refused backup is a recorded, failed drill: not a job to retry
            log.error("scheduled_drill_refused", backup=backup.name, code=exc.code)
    chain(session, rt, "ops.restore_drill", {k: v for k, v in payload.items() if k != "every_s"}, float(payload["every_s"]))
