"""The console's dashboard: what is waiting for the signed-in staff member, for their roles only.

Rights requests (overdue and due soon first), pending device approvals, open insider-watch
alerts, incidents whose notices are not all sent. Each list comes from its domain's service, which checks the role; a section the role
may not see is left out rather than shown empty.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from lendshield.ops import incidents
from lendshield.principals import Principal
from lendshield.rights import alerts as rights_alerts
from lendshield.rights import service as rights
from lendshield.runtime import Runtime
from lendshield.watch import alerts as watch
from lendshield.web.console_common import SessionCookie, by_urgency, deadline_states, page, signed_in, usable_purposes
from lendshield.web.deps import RuntimeDep, unit_of_work
from lendshield.web.pages import _pending, _to_login

router = APIRouter(include_in_schema=False)
SHOWN = 10


def _rights(rt: Runtime, who: Principal) -> dict[str, Any] | None:
    r = rights.rules(rt)
    if not who.roles & (r.read_roles | r.work_roles):
        return None
    with unit_of_work(rt) as session:
        views = rights.queue(session, rt, who)
        states = deadline_states(session, rt, views)
        deadline_alerts = len(rights_alerts.list_alerts(session, rt, who))
    ordered = by_urgency(views, states)
    return {
        "open": len(views),
        "overdue": sum(s.state == "overdue" for s in states.values()),
        "due_soon": sum(s.state == "due_soon" for s in states.values()),
        "alerts": deadline_alerts,
        "rows": [{"view": v, "deadline": states[v.id]} for v in ordered[:SHOWN]],
    }


def _alerts(rt: Runtime, who: Principal) -> dict[str, Any] | None:
    if not who.roles & watch.READ_ROLES:
        return None
    with unit_of_work(rt) as session:
        open_ = watch.list_alerts(session, who, status="open", limit=SHOWN)
        acknowledged = watch.list_alerts(session, who, status="acknowledged", limit=SHOWN)
        items = [
            {"id": a.id, "rule_id": a.rule_id, "severity": a.severity, "status": a.status, "title": a.title, "actor": a.actor}
            for a in open_ + acknowledged
        ]
    return {"open": len(open_), "acknowledged": len(acknowledged), "rows": items}


def _incidents(rt: Runtime, who: Principal) -> list[dict[str, Any]] | None:
    """Open incidents whose notices are not all sent, for the protection officer; overdue first."""
    if not who.roles & incidents.OFFICER_ROLES:
        return None
    with unit_of_work(rt) as session:
        rows = incidents.list_incidents(session, rt, who, limit=200)
    waiting = [i for i in rows if i["status"] == "open" and (not i["regulator_notified_at"] or i["people_notified"] < i["affected"])]
    waiting.sort(key=lambda i: (not i["regulator_notice_overdue"], i["regulator_notice_due_by"]))
    return waiting[:SHOWN]


@router.get("/console", response_model=None)
def dashboard(request: Request, rt: RuntimeDep, ls_session: SessionCookie = None) -> Response:
    staff = signed_in(rt, ls_session)
    if staff is None:
        return _to_login()
    who = staff.who
    return page(
        request,
        "console/dashboard.html",
        who,
        pending=_pending(rt, who),
        rights=_rights(rt, who),
        alerts=_alerts(rt, who),
        incidents=_incidents(rt, who),
        may_read_subjects=bool(usable_purposes(rt, who)),
    )
