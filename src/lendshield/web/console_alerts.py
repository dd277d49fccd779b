"""Console pages for insider-watch alerts (R10): the list, one alert with the ledger entries that
triggered it and its history, and the protection officer's acknowledge / resolve with a note.

Reads and changes go through ``lendshield.watch.alerts`` like the API: auditors read, only the
protection officer changes; opening an alert is itself a ledger entry (R16). Alerts and the
entries they show carry no personal value (subject references are keyed hashes).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response

from lendshield.accounts import service as accounts
from lendshield.errors import LendShieldError
from lendshield.principals import Principal
from lendshield.runtime import Runtime
from lendshield.watch import alerts as watch
from lendshield.web.console_common import SessionCookie, page, refused, signed_in, utc
from lendshield.web.deps import RuntimeDep, unit_of_work
from lendshield.web.pages import SECURITY_HEADERS, _to_login

router = APIRouter(include_in_schema=False)
AlertId = Annotated[int, Path(ge=1, le=2**31 - 1)]
DONE = {"acknowledge": "The alert was acknowledged.", "resolve": "The alert was resolved."}


def _row(a: Any) -> dict[str, Any]:
    return {
        "id": a.id,
        "rule_id": a.rule_id,
        "severity": a.severity,
        "status": a.status,
        "actor": a.actor,
        "title": a.title,
        "measure": a.measure,
        "threshold": a.threshold,
        "trigger_count": a.trigger_count,
        "first_seen": utc(a.first_seen),
        "last_seen": utc(a.last_seen),
    }


@router.get("/console/alerts", response_model=None)
def alerts_page(
    request: Request,
    rt: RuntimeDep,
    status: Annotated[str | None, Query(pattern="^(open|acknowledged|resolved)?$")] = None,
    ls_session: SessionCookie = None,
) -> Response:
    staff = signed_in(rt, ls_session)
    if staff is None:
        return _to_login()
    try:
        with unit_of_work(rt) as session:
            rows = [_row(a) for a in watch.list_alerts(session, staff.who, status=status or None, limit=200)]
    except LendShieldError as exc:
        return refused(request, staff.who, exc)
    return page(request, "console/alerts.html", staff.who, alerts=rows, chosen_status=status or "", statuses=watch.STATUSES)


def _detail(request: Request, rt: Runtime, who: Principal, alert_id: int, *, status: int = 200, error: str | None = None) -> Response:
    with unit_of_work(rt) as session:
        detail = watch.get_alert(session, rt, who, alert_id)
        alert = _row(detail.alert)
        facts = dict(detail.alert.facts)
        notes = [
            {"at": utc(n.at), "by": n.by, "from": n.from_status, "to": n.to_status, "note": n.note, "seq": n.ledger_seq}
            for n in detail.notes
        ]
    entries = [
        {
            "seq": e.seq,
            "time": utc(e.time),
            "actor": e.actor,
            "action": e.action,
            "object": e.object,
            "purpose": e.purpose or "",
            "decision": e.decision or "",
            "rule_id": e.rule_id or "",
        }
        for e in detail.entries
    ]
    done = DONE.get(request.query_params.get("done") or "")
    return page(
        request,
        "console/alert.html",
        who,
        status=status,
        a=alert,
        facts=facts,
        entries=entries,
        notes=notes,
        may_work=bool(who.roles & watch.WORK_ROLES),
        done=done,
        error=error,
    )


@router.get("/console/alerts/{alert_id}", response_model=None)
def alert_page(request: Request, alert_id: AlertId, rt: RuntimeDep, ls_session: SessionCookie = None) -> Response:
    staff = signed_in(rt, ls_session)
    if staff is None:
        return _to_login()
    try:
        return _detail(request, rt, staff.who, alert_id)
    except LendShieldError as exc:
        return refused(request, staff.who, exc)


@router.post("/console/alerts/{alert_id}/{to}", response_model=None)
def change(
    request: Request,
    alert_id: AlertId,
    to: Annotated[str, Path(pattern="^(acknowledge|resolve)$")],
    rt: RuntimeDep,
    note: Annotated[str, Form(max_length=2000)] = "",
    csrf: Annotated[str, Form(max_length=128)] = "",
    ls_session: SessionCookie = None,
) -> Response:
    """Acknowledge or resolve with a note (``watch.alerts.transition``: ledger entry and history)."""
    staff = signed_in(rt, ls_session)
    if staff is None:
        return _to_login()
    accounts.check_csrf(staff.identity, csrf)
    try:
        with unit_of_work(rt) as session:
            watch.transition(session, rt, staff.who, alert_id, "resolve" if to == "resolve" else "acknowledge", note)
    except LendShieldError as exc:
        try:
            return _detail(request, rt, staff.who, alert_id, status=exc.status, error=exc.detail)
        except LendShieldError as again:
            return refused(request, staff.who, again)
    return RedirectResponse(f"/console/alerts/{alert_id}?done={to}", status_code=303, headers=SECURITY_HEADERS)
