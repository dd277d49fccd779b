"""Console pages for incidents (PIPL Art. 57, R17): the list with a form to open one, and one
incident with its affected people, the drafted notices and what was sent to whom and when.

Every read and change goes through ``lendshield.ops.incidents`` like the API: only the protection
officer handles incidents, and each change is a ledger entry. People appear by their ledger
reference (a keyed hash), never by a personal value.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import RedirectResponse, Response

from lendshield.accounts import service as accounts
from lendshield.errors import InvalidInput, LendShieldError
from lendshield.ops import incidents
from lendshield.principals import Principal
from lendshield.runtime import Runtime
from lendshield.web.console_common import SessionCookie, Staff, form_time, page, refused, signed_in, utc
from lendshield.web.deps import RuntimeDep, unit_of_work
from lendshield.web.pages import SECURITY_HEADERS, _to_login

router = APIRouter(include_in_schema=False)
IncidentId = Annotated[str, Path(min_length=36, max_length=36, pattern=r"^[0-9a-f-]{36}$")]
Text = Annotated[str, Form(max_length=2000)]
Csrf = Annotated[str, Form(max_length=128)]
CHANNELS = ("cac-portal", "letter", "email", "sms", "phone", "in-app")
DONE = {
    "opened": "The incident was opened.",
    "scoped": "The affected people were added.",
    "notified": "The notice was recorded as sent.",
}
FACT_NAMES = ("title", "cause", "harm", "remedies", "advice", "contact")


_TIMES = ("opened_at", "regulator_notified_at", "regulator_notice_due_by", "notified_at")


def _shown(when: str | None) -> str | None:
    """An RFC 3339 time of the incident service as the console shows times (UTC, to the minute)."""
    return utc(dt.datetime.fromisoformat(when.replace("Z", "+00:00"))) if when else None


def _times(row: dict[str, Any]) -> dict[str, Any]:
    return row | {k: _shown(row.get(k)) for k in _TIMES if k in row}


def _list(
    request: Request, rt: Runtime, who: Principal, *, status: int = 200, error: str | None = None, form: dict[str, str] | None = None
) -> Response:
    with unit_of_work(rt) as session:
        rows = [_times(row) for row in incidents.list_incidents(session, rt, who, limit=200)]
    return page(request, "console/incidents.html", who, status=status, incidents=rows, error=error, form=form or {})


def _detail(request: Request, rt: Runtime, who: Principal, incident_id: str, *, status: int = 200, error: str | None = None) -> Response:
    with unit_of_work(rt) as session:
        incident = _times(incidents.get_incident(session, rt, who, incident_id))
        notices = incidents.draft_notices(session, rt, who, incident_id)
    regulator = _times(notices["regulator"])
    people = [_times(p) for p in notices["people"]]
    done = DONE.get(request.query_params.get("done") or "")
    return page(
        request,
        "console/incident.html",
        who,
        status=status,
        i=incident,
        regulator=regulator,
        people=people,
        channels=CHANNELS,
        done=done,
        error=error,
    )


def _checked(rt: Runtime, token: str | None, csrf: str) -> Staff | None:
    """The signed-in staff member of a form post, its CSRF token checked (403 if wrong)."""
    staff = signed_in(rt, token)
    if staff is not None:
        accounts.check_csrf(staff.identity, csrf)
    return staff


def _refused_change(request: Request, rt: Runtime, who: Principal, incident_id: str, exc: LendShieldError) -> Response:
    """The incident's page again with the reason a change was refused (a refusal page if the page is refused too)."""
    try:
        return _detail(request, rt, who, incident_id, status=exc.status, error=exc.detail)
    except LendShieldError as again:
        return refused(request, who, again)


def _done(incident_id: str, what: str) -> Response:
    return RedirectResponse(f"/console/incidents/{incident_id}?done={what}", status_code=303, headers=SECURITY_HEADERS)


@router.get("/console/incidents", response_model=None)
def incidents_page(request: Request, rt: RuntimeDep, ls_session: SessionCookie = None) -> Response:
    staff = signed_in(rt, ls_session)
    if staff is None:
        return _to_login()
    try:
        return _list(request, rt, staff.who)
    except LendShieldError as exc:
        return refused(request, staff.who, exc)


@router.post("/console/incidents", response_model=None)
def open_incident(
    request: Request,
    rt: RuntimeDep,
    title: Annotated[str, Form(max_length=200)] = "",
    cause: Text = "",
    harm: Text = "",
    remedies: Text = "",
    advice: Text = "",
    contact: Annotated[str, Form(max_length=500)] = "",
    csrf: Csrf = "",
    ls_session: SessionCookie = None,
) -> Response:
    staff = _checked(rt, ls_session, csrf)
    if staff is None:
        return _to_login()
    facts = incidents.IncidentFacts(title=title, cause=cause, harm=harm, remedies=remedies, advice=advice, contact=contact)
    try:
        with unit_of_work(rt) as session:
            incident_id = incidents.open_incident(session, rt, staff.who, facts)
    except LendShieldError as exc:
        try:  # the form again, filled in as sent, with the reason
            form = {name: getattr(facts, name) for name in FACT_NAMES}
            return _list(request, rt, staff.who, status=exc.status, error=exc.detail, form=form)
        except LendShieldError as again:
            return refused(request, staff.who, again)
    return _done(incident_id, "opened")


@router.get("/console/incidents/{incident_id}", response_model=None)
def incident_page(request: Request, incident_id: IncidentId, rt: RuntimeDep, ls_session: SessionCookie = None) -> Response:
    staff = signed_in(rt, ls_session)
    if staff is None:
        return _to_login()
    try:
        return _detail(request, rt, staff.who, incident_id)
    except LendShieldError as exc:
        return refused(request, staff.who, exc)


@router.post("/console/incidents/{incident_id}/scope", response_model=None)
def scope(
    request: Request,
    incident_id: IncidentId,
    rt: RuntimeDep,
    start: Annotated[str, Form(max_length=32)] = "",
    end: Annotated[str, Form(max_length=32)] = "",
    actor: Annotated[str, Form(max_length=64)] = "",
    export_id: Annotated[str, Form(max_length=36)] = "",
    csrf: Csrf = "",
    ls_session: SessionCookie = None,
) -> Response:
    """The people whose data was read in a window (by one actor, if named), or who were in a leaked export."""
    staff = _checked(rt, ls_session, csrf)
    if staff is None:
        return _to_login()
    try:
        begins, ends = form_time(start, "start"), form_time(end, "end")
        with unit_of_work(rt) as session:
            if export_id.strip():
                incidents.find_affected_from_export(session, rt, staff.who, incident_id, export_id=export_id.strip())
            elif begins is None or ends is None:
                raise InvalidInput("give the window's start and end, or a leaked export's id")
            else:
                who_read = actor.strip() or None
                incidents.find_affected_from_ledger(session, rt, staff.who, incident_id, start=begins, end=ends, actor=who_read)
    except LendShieldError as exc:
        return _refused_change(request, rt, staff.who, incident_id, exc)
    return _done(incident_id, "scoped")


@router.post("/console/incidents/{incident_id}/notified", response_model=None)
def notified(
    request: Request,
    incident_id: IncidentId,
    rt: RuntimeDep,
    channel: Annotated[str, Form(max_length=32)] = "",
    subject_ref: Annotated[str, Form(max_length=64, pattern=r"^([0-9a-f]{64})?$")] = "",
    csrf: Csrf = "",
    ls_session: SessionCookie = None,
) -> Response:
    """Record that the regulator (no ``subject_ref``) or one person was sent their notice, and how."""
    staff = _checked(rt, ls_session, csrf)
    if staff is None:
        return _to_login()
    try:
        if channel not in CHANNELS:
            raise InvalidInput("choose how the notice was sent")
        with unit_of_work(rt) as session:
            incidents.mark_notified(session, rt, staff.who, incident_id, subject_ref=subject_ref or None, channel=channel)
    except LendShieldError as exc:
        return _refused_change(request, rt, staff.who, incident_id, exc)
    return _done(incident_id, "notified")
