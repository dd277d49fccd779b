"""Console pages for rights requests (PIPL Arts. 44-50): the officers' queue with deadlines, one
request's details, and the protection officer's steps (assign, extend, refuse, fulfil).

Each step is the same ``lendshield.rights`` service call as the API (role check, status machine,
ledger entry); a refused step is shown on the page with its reason. After a step the browser is
sent back to the request (post/redirect/get), so a reload never repeats it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from lendshield.accounts import service as accounts
from lendshield.errors import LendShieldError, NotFound
from lendshield.principals import Principal
from lendshield.principals import service as principals
from lendshield.rights import alerts as rights_alerts
from lendshield.rights import flows, verification
from lendshield.rights import service as rights
from lendshield.rights.models import STATUSES
from lendshield.runtime import Runtime
from lendshield.web.console_common import SessionCookie, Staff, by_urgency, deadline_states, page, refused, signed_in, utc
from lendshield.web.deps import RuntimeDep, unit_of_work
from lendshield.web.pages import SECURITY_HEADERS, _to_login

router = APIRouter(include_in_schema=False)
Csrf = Annotated[str, Form(max_length=128)]
DONE = {
    "assigned": "The request is assigned to you and in progress.",
    "extended": "The deadline was extended; the person sees your reason.",
    "refused": "The request was refused; the person sees your reason.",
    "fulfilled": "The request was carried out; the person sees the outcome.",
    "acknowledged": "The alert was acknowledged.",
    "verified": "The person's identity is verified; the request is open.",
}


def _name_of(rt: Runtime, principal_id: str | None) -> str:
    if principal_id is None:
        return ""
    with rt.sessions() as session:
        try:
            return principals.get_principal(session, principal_id).name
        except NotFound:
            return principal_id


def _queue_page(request: Request, rt: Runtime, who: Principal, status: str | None) -> Response:
    with unit_of_work(rt) as session:
        views = rights.queue(session, rt, who, status=status)
        states = deadline_states(session, rt, views)
        alerts = rights_alerts.list_alerts(session, rt, who)
    items = [{"view": v, "deadline": states[v.id], "filed": utc(v.filed_at)} for v in by_urgency(views, states)]
    return page(
        request,
        "console/rights.html",
        who,
        items=items,
        statuses=STATUSES,
        chosen_status=status or "",
        alerts=[{"id": a.id, "kind": a.kind, "request_id": a.request_id, "message": a.message, "at": utc(a.created_at)} for a in alerts],
        may_work=bool(who.roles & rights.rules(rt).work_roles),
        done=_done(request),
    )


def _done(request: Request) -> str | None:
    done = request.query_params.get("done")
    return DONE.get(done) if done else None


def _detail_page(
    request: Request, rt: Runtime, who: Principal, request_id: str, *, status: int = 200, error: str | None = None, **extra: Any
) -> Response:
    with unit_of_work(rt) as session:
        view = rights.get_request(session, rt, who, request_id)
        state = deadline_states(session, rt, [view])[view.id]
    r = rights.rules(rt)
    return page(
        request,
        "console/rights_request.html",
        who,
        status=status,
        r=view,
        deadline=state,
        filed=utc(view.filed_at),
        answered=utc(view.answered_at),
        owner=_name_of(rt, view.owner_id),
        may_work=bool(who.roles & r.work_roles),
        max_extension=max(j.max_extension_days for j in r.jurisdictions.values()),
        done=_done(request),
        error=error,
        **extra,
    )


@router.get("/console/rights", response_model=None)
def queue_page(
    request: Request,
    rt: RuntimeDep,
    status: Annotated[str | None, Query(max_length=16)] = None,
    ls_session: SessionCookie = None,
) -> Response:
    staff = signed_in(rt, ls_session)
    if staff is None:
        return _to_login()
    try:
        return _queue_page(request, rt, staff.who, status or None)
    except LendShieldError as exc:
        return refused(request, staff.who, exc)


@router.get("/console/rights/{request_id}", response_model=None)
def request_page(request: Request, request_id: str, rt: RuntimeDep, ls_session: SessionCookie = None) -> Response:
    staff = signed_in(rt, ls_session)
    if staff is None:
        return _to_login()
    try:
        return _detail_page(request, rt, staff.who, request_id[:36])
    except LendShieldError as exc:
        return refused(request, staff.who, exc)


def _step(request: Request, rt: Runtime, staff: Staff, csrf: str, request_id: str, done: str, action: Any) -> Response:
    """Check the form's CSRF token, run one service step in its own unit of work, then redirect."""
    accounts.check_csrf(staff.identity, csrf)
    request_id = request_id[:36]
    try:
        with unit_of_work(rt) as session:
            action(session)
    except LendShieldError as exc:
        try:
            return _detail_page(request, rt, staff.who, request_id, status=exc.status, error=exc.detail)
        except LendShieldError as again:
            return refused(request, staff.who, again)
    return RedirectResponse(f"/console/rights/{request_id}?done={done}", status_code=303, headers=SECURITY_HEADERS)


@router.post("/console/rights/{request_id}/assign", response_model=None)
def assign(request: Request, request_id: str, rt: RuntimeDep, csrf: Csrf = "", ls_session: SessionCookie = None) -> Response:
    staff = signed_in(rt, ls_session)
    if staff is None:
        return _to_login()
    return _step(request, rt, staff, csrf, request_id, "assigned", lambda s: rights.assign(s, rt, staff.who, request_id[:36]))


@router.post("/console/rights/{request_id}/extend", response_model=None)
def extend(
    request: Request,
    request_id: str,
    rt: RuntimeDep,
    working_days: Annotated[int, Form(ge=1, le=60)],
    reason: Annotated[str, Form(max_length=1000)] = "",
    csrf: Csrf = "",
    ls_session: SessionCookie = None,
) -> Response:
    staff = signed_in(rt, ls_session)
    if staff is None:
        return _to_login()
    return _step(
        request,
        rt,
        staff,
        csrf,
        request_id,
        "extended",
        lambda s: rights.extend(s, rt, staff.who, request_id[:36], working_days=working_days, reason=reason),
    )


@router.post("/console/rights/{request_id}/refuse", response_model=None)
def refuse(
    request: Request,
    request_id: str,
    rt: RuntimeDep,
    reason: Annotated[str, Form(max_length=1000)] = "",
    csrf: Csrf = "",
    ls_session: SessionCookie = None,
) -> Response:
    staff = signed_in(rt, ls_session)
    if staff is None:
        return _to_login()
    return _step(request, rt, staff, csrf, request_id, "refused", lambda s: rights.refuse(s, rt, staff.who, request_id[:36], reason=reason))


@router.post("/console/rights/{request_id}/fulfil", response_model=None)
def fulfil(
    request: Request,
    request_id: str,
    rt: RuntimeDep,
    outcome: Annotated[str, Form(max_length=1000)] = "",
    csrf: Csrf = "",
    ls_session: SessionCookie = None,
) -> Response:
    staff = signed_in(rt, ls_session)
    if staff is None:
        return _to_login()
    return _step(
        request,
        rt,
        staff,
        csrf,
        request_id,
        "fulfilled",
        lambda s: flows.fulfil(s, rt, staff.who, request_id[:36], outcome=outcome.strip() or None),
    )


@router.post("/console/rights/{request_id}/verification", response_model=None)
def send_code(request: Request, request_id: str, rt: RuntimeDep, csrf: Csrf = "", ls_session: SessionCookie = None) -> Response:
    """Text a one-time code to the person's verified mobile (staff-filed requests); the page shows
    the masked number only, and is not redirected so the number never goes into a URL."""
    staff = signed_in(rt, ls_session)
    if staff is None:
        return _to_login()
    accounts.check_csrf(staff.identity, csrf)
    request_id = request_id[:36]
    try:
        with unit_of_work(rt) as session:
            sent_to = verification.send_code(session, rt, staff.who, request_id)
    except LendShieldError as exc:
        try:
            return _detail_page(request, rt, staff.who, request_id, status=exc.status, error=exc.detail)
        except LendShieldError as again:
            return refused(request, staff.who, again)
    return _detail_page(request, rt, staff.who, request_id, sent_to=sent_to)


@router.post("/console/rights/{request_id}/verification/confirm", response_model=None)
def confirm_code(
    request: Request,
    request_id: str,
    rt: RuntimeDep,
    code: Annotated[str, Form(max_length=16)] = "",
    csrf: Csrf = "",
    ls_session: SessionCookie = None,
) -> Response:
    """The code the person read out; a wrong one is counted and logged by the service."""
    staff = signed_in(rt, ls_session)
    if staff is None:
        return _to_login()
    return _step(
        request,
        rt,
        staff,
        csrf,
        request_id,
        "verified",
        lambda s: verification.confirm_code(s, rt, staff.who, request_id[:36], code.strip()),
    )


@router.post("/console/rights/{request_id}/text", response_model=None)
def personal_text(request: Request, request_id: str, rt: RuntimeDep, csrf: Csrf = "", ls_session: SessionCookie = None) -> Response:
    """What the person wrote (sealed at rest); reading it is a ledger entry, so it is a posted form."""
    staff = signed_in(rt, ls_session)
    if staff is None:
        return _to_login()
    accounts.check_csrf(staff.identity, csrf)
    try:
        with unit_of_work(rt) as session:
            text = rights.personal_text(session, rt, staff.who, request_id[:36])
        return _detail_page(request, rt, staff.who, request_id[:36], text=text)
    except LendShieldError as exc:
        return refused(request, staff.who, exc)


@router.post("/console/rights/alerts/{alert_id}/acknowledge", response_model=None)
def acknowledge_alert(request: Request, alert_id: int, rt: RuntimeDep, csrf: Csrf = "", ls_session: SessionCookie = None) -> Response:
    staff = signed_in(rt, ls_session)
    if staff is None:
        return _to_login()
    accounts.check_csrf(staff.identity, csrf)
    try:
        with unit_of_work(rt) as session:
            rights_alerts.acknowledge(session, rt, staff.who, alert_id)
    except LendShieldError as exc:
        return refused(request, staff.who, exc)
    return RedirectResponse("/console/rights?done=acknowledged", status_code=303, headers=SECURITY_HEADERS)
