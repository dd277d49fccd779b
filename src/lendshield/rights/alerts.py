"""Deadline alerts for open requests, and the operators' list of alerts.

``deadline_alerts`` is the job for the runner: it raises ``due_soon`` once a request is within
``alert_before_working_days`` working days of its due date and ``overdue`` once the date has
passed, each at most once per request (and per deadline, after an extension).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from lendshield.errors import NotFound
from lendshield.principals import Principal
from lendshield.rights import service as svc
from lendshield.rights.errors import RightsForbidden
from lendshield.rights.models import AlertRow, RightsRequestRow
from lendshield.runtime import Runtime

log = structlog.get_logger("lendshield.rights")


@dataclass(frozen=True, slots=True)
class AlertView:
    id: int
    kind: str
    request_id: str | None
    message: str
    created_at: dt.datetime
    acknowledged: bool


def _raised(session: Session, request_id: str, kind: str, due: dt.date) -> bool:
    marker = f"(due {due.isoformat()})"
    rows = session.scalars(select(AlertRow.message).where(AlertRow.request_id == request_id, AlertRow.kind == kind))
    return any(marker in m for m in rows)


def check_deadlines(session: Session, rt: Runtime) -> list[AlertView]:
    """Raise the alerts now due, in the caller's transaction; returns the new ones."""
    before = svc.rules(rt).alert_before_working_days
    now = rt.clock.now()
    new: list[AlertRow] = []
    for row in session.scalars(select(RightsRequestRow).where(RightsRequestRow.status.in_(svc.OPEN_STATUSES))):
        today = svc.local_date(rt, row.jurisdiction, now)
        left = svc.calendar_for(rt, row.jurisdiction).working_days_between(today, row.due_on)
        if today > row.due_on:
            kind, text = "overdue", f"{row.type} request is past its deadline (due {row.due_on.isoformat()})"
        elif left <= before:
            kind, text = "due_soon", f"{row.type} request has {left} working day(s) left (due {row.due_on.isoformat()})"
        else:
            continue
        if _raised(session, row.id, kind, row.due_on):
            continue
        alert = AlertRow(kind=kind, request_id=row.id, message=text, created_at=now)
        session.add(alert)
        new.append(alert)
        log.warning("rights_deadline", kind=kind, request_id=row.id, due_on=row.due_on.isoformat())
    session.flush()
    return [_view(a) for a in new]


def deadline_alerts(rt: Runtime) -> int:
    """The runner's job (hourly is plenty): one transaction; returns how many alerts were raised."""
    with rt.sessions() as session:
        raised = check_deadlines(session, rt)
        session.commit()
    return len(raised)


def _view(row: AlertRow) -> AlertView:
    return AlertView(row.id, row.kind, row.request_id, row.message, row.created_at, row.acknowledged_at is not None)


def list_alerts(session: Session, rt: Runtime, who: Principal, *, include_acknowledged: bool = False) -> list[AlertView]:
    """Alerts for the officers: deadlines near or passed, holiday years missing."""
    r = svc.rules(rt)
    if not who.roles & (r.read_roles | r.work_roles):
        raise RightsForbidden("this role may not see rights alerts")
    stmt = select(AlertRow)
    if not include_acknowledged:
        stmt = stmt.where(AlertRow.acknowledged_at.is_(None))
    return [_view(a) for a in session.scalars(stmt.order_by(AlertRow.created_at, AlertRow.id))]


def acknowledge(session: Session, rt: Runtime, who: Principal, alert_id: int) -> AlertView:
    svc.require_worker(rt, who)
    row = session.get(AlertRow, alert_id)
    if row is None:
        raise NotFound("no such alert")
    row.acknowledged_at = rt.clock.now()
    return _view(row)
