"""Server-rendered pages of the borrower portal (Jinja2, no front-end build, no external resources).

A borrower signs in with phone, password and a one-time code sent to the phone
(``accounts.borrowers``), then acts as their portal principal (role ``borrower``): every read goes
through the gate under purpose ``self_service`` (own data only, masked). The subject always comes
from the session, never from the request, so one person's ids in another's requests are refused
(and logged). Every form carries a CSRF token: the session's once signed in, a double-submit
cookie before. Cookies are Secure, HttpOnly, SameSite=Strict and scoped to ``/portal``.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from lendshield.collection import verification
from lendshield.consent import service as consent
from lendshield.errors import LendShieldError, NotFound
from lendshield.ledger import proofs
from lendshield.ledger.errors import NoCheckpoint
from lendshield.ledger.tree import log_public_key
from lendshield.principals import service as principals
from lendshield.rights import flows as rights_flows
from lendshield.rights import service as rights
from lendshield.rights.errors import NotYourData
from lendshield.rights.params import DELETION_GROUNDS, REPORT_CATEGORIES
from lendshield.rights.service import RequestView
from lendshield.runtime import Runtime
from lendshield.subjects import service as subjects
from lendshield.web import portal_auth, portal_views
from lendshield.web.deps import RuntimeDep, unit_of_work
from lendshield.web.pages import SECURITY_HEADERS
from lendshield.web.portal_common import (
    PATH,
    SESSION_COOKIE,
    Borrower,
    csrf_refusal,
    current_borrower,
    done_message,
    gettext_for,
    log,
    page_lang,
    refuse_page,
    render,
    to_login,
)

__all__ = ["SESSION_COOKIE", "router"]
PURPOSE = "self_service"
FILE_TYPES = ("access", "portability", "deletion", "restriction")
router = APIRouter(include_in_schema=False)
router.include_router(portal_auth.router)

# --- my data, my consents ---------------------------------------------------------------------


@router.get(f"{PATH}/data", response_model=None)
def my_data(request: Request, rt: RuntimeDep) -> Response:
    me = current_borrower(rt, request)
    if me is None:
        return to_login()
    lang = page_lang(request)
    rows: list[dict[str, str]] = []
    error = None
    try:
        with unit_of_work(rt) as session:
            view = subjects.read_fields(session, rt, me.principal, me.subject_id, purpose=PURPOSE, reason=None)
    except LendShieldError:
        error = gettext_for(request)("Your data cannot be shown right now.")
    else:
        order = {name: i for i, name in enumerate(rt.catalog.fields)}
        for name, field in sorted(view.fields.items(), key=lambda kv: order.get(kv[0], len(order))):
            spec = rt.catalog.fields[name]
            rows.append({"label": spec.label_zh if lang == "zh_CN" else spec.label_en, "value": field.value})
    return render(request, "portal/data.html", me=me, page="data", rows=rows, error=error)


def _consent_rows(rt: Runtime, me: Borrower, lang: str) -> list[dict[str, Any]]:
    with unit_of_work(rt) as session:
        states = consent.states(session, rt, me.principal, me.subject_id)
    out = []
    for s in states:
        spec = rt.policy.purposes.by_id.get(s.purpose)
        out.append(
            {
                "purpose": s.purpose,
                "label": (spec.label_zh if lang == "zh_CN" else spec.label_en) if spec else s.purpose,
                "kind": s.kind,
                "action": s.action,
                "necessary": bool(spec and spec.necessary),
                "at": portal_views.local_time(s.recorded_at, me.tz),
                "notice": s.notice_version,
            }
        )
    return out


@router.get(f"{PATH}/consents", response_model=None)
def my_consents(request: Request, rt: RuntimeDep) -> Response:
    me = current_borrower(rt, request)
    if me is None:
        return to_login()
    try:
        rows, error = _consent_rows(rt, me, page_lang(request)), None
    except LendShieldError:
        rows, error = [], gettext_for(request)("Your data cannot be shown right now.")
    return render(request, "portal/consents.html", me=me, page="consents", rows=rows, message=done_message(request), error=error)


@router.post(f"{PATH}/consents/withdraw", response_model=None)
def withdraw(
    request: Request,
    rt: RuntimeDep,
    purpose: Annotated[str, Form(max_length=64, pattern=r"^[a-z][a-z0-9_]*$")],
    kind: Annotated[str, Form(max_length=32, pattern=r"^[a-z_]+$")] = "purpose",
    csrf: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    me = current_borrower(rt, request)
    if me is None:
        return to_login()
    if (refused := csrf_refusal(request, me, csrf)) is not None:
        return refused
    try:
        with unit_of_work(rt) as session:
            consent.record(session, rt, me.principal, me.subject_id, purpose=purpose, action="withdraw", kind=kind, channel="web")
    except LendShieldError:
        rows = _consent_rows(rt, me, page_lang(request))
        error = gettext_for(request)("There is no consent to withdraw for that purpose.")
        return render(request, "portal/consents.html", status=409, me=me, page="consents", rows=rows, error=error)
    return RedirectResponse(f"{PATH}/consents?done=withdrawn", status_code=303)


# --- my requests, report ----------------------------------------------------------------------


def _request_rows(rt: Runtime, me: Borrower) -> list[dict[str, Any]]:
    today = rt.clock.now().astimezone(me.tz).date()
    with unit_of_work(rt) as session:
        views = rights.list_requests_for_subject(session, rt, me.principal)
    return [_request_row(v, me, today) for v in views]


def _request_row(v: RequestView, me: Borrower, today: date) -> dict[str, Any]:
    """One request as the portal shows it: times in the person's zone, days left to the deadline."""
    return {
        "id": v.id,
        "type": v.type,
        "status": v.status,
        "filed": portal_views.local_time(v.filed_at, me.tz),
        "due": v.due_on.isoformat(),
        "days_left": portal_views.days_left(v.due_on, today),
        "open": v.status in rights.OPEN_STATUSES,
        "estimated": v.deadline_note is not None,
        "refusal": v.refusal_reason,
        "outcome": v.outcome,
        "answered": portal_views.local_time(v.answered_at, me.tz),
    }


def _grounds() -> list[str]:
    return list(DELETION_GROUNDS)


@router.get(f"{PATH}/requests", response_model=None)
def my_requests(request: Request, rt: RuntimeDep) -> Response:
    me = current_borrower(rt, request)
    if me is None:
        return to_login()
    try:
        rows, error = _request_rows(rt, me), None
    except LendShieldError:
        rows, error = [], gettext_for(request)("Your data cannot be shown right now.")
    return render(
        request,
        "portal/requests.html",
        me=me,
        page="requests",
        rows=rows,
        types=FILE_TYPES,
        grounds=_grounds(),
        message=done_message(request),
        error=error,
    )


def _file(rt: Runtime, me: Borrower, request_type: str, params: dict[str, Any], text: str | None) -> None:
    with unit_of_work(rt) as session:
        rights.file_request(session, rt, me.principal, request_type=request_type, params=params, text=text or None)


@router.post(f"{PATH}/requests", response_model=None)
def file_request(
    request: Request,
    rt: RuntimeDep,
    type: Annotated[str, Form(max_length=32)],
    ground: Annotated[str, Form(max_length=64)] = "",
    text: Annotated[str, Form(max_length=4000)] = "",
    csrf: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    me = current_borrower(rt, request)
    if me is None:
        return to_login()
    if (refused := csrf_refusal(request, me, csrf)) is not None:
        return refused
    t = gettext_for(request)
    if type not in FILE_TYPES:
        return refuse_page(request, me, 422, "Choose one of the request types shown.")
    params: dict[str, Any] = (
        {"ground": ground}
        if type == "deletion"
        else ({"lang": "en" if page_lang(request) == "en" else "zh"} if type in ("access", "portability") else {})
    )
    try:
        _file(rt, me, type, params, text.strip())
    except LendShieldError:
        rows = _request_rows(rt, me)
        error = t("The request could not be filed: check the choices and the text (a restriction needs a reason).")
        return render(
            request,
            "portal/requests.html",
            status=422,
            me=me,
            page="requests",
            rows=rows,
            types=FILE_TYPES,
            grounds=_grounds(),
            error=error,
        )
    return RedirectResponse(f"{PATH}/requests?done=filed", status_code=303)


@router.get(f"{PATH}/requests/{{request_id}}", response_model=None)
def one_request(request: Request, rt: RuntimeDep, request_id: str) -> Response:
    me = current_borrower(rt, request)
    if me is None:
        return to_login()
    if not re.fullmatch(r"[0-9a-f-]{36}", request_id):
        return refuse_page(request, me, 404, "There is no such request of yours.")
    try:
        with unit_of_work(rt) as session:
            view = rights.get_request(session, rt, me.principal, request_id)
    except NotYourData:
        # Someone else's id: the refusal is in that person's ledger; here we only log the account.
        log.warning("portal_foreign_reference", account=me.identity.account_id, kind="rights_request")
        return refuse_page(request, me, 404, "There is no such request of yours.")
    except NotFound:
        return refuse_page(request, me, 404, "There is no such request of yours.")
    today = rt.clock.now().astimezone(me.tz).date()
    row = _request_row(view, me, today) | {"extension": view.extension_reason, "params": view.params, "has_package": view.has_package}
    return render(request, "portal/request.html", me=me, page="requests", row=row)


@router.get(f"{PATH}/requests/{{request_id}}/package", response_model=None)
def my_package(request: Request, rt: RuntimeDep, request_id: str) -> Response:
    """The copy of my data (zip) an access or portability request produced; downloading is logged."""
    me = current_borrower(rt, request)
    if me is None:
        return to_login()
    if not re.fullmatch(r"[0-9a-f-]{36}", request_id):
        return refuse_page(request, me, 404, "There is no such request of yours.")
    try:
        with unit_of_work(rt) as session:
            name, blob = rights_flows.download_package(session, rt, me.principal, request_id)
    except NotYourData:
        log.warning("portal_foreign_reference", account=me.identity.account_id, kind="rights_package")
        return refuse_page(request, me, 404, "There is no such request of yours.")
    except LendShieldError:
        return refuse_page(request, me, 404, "There is no such request of yours.")
    headers = dict(SECURITY_HEADERS) | {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(blob, media_type="application/zip", headers=headers)


@router.get(f"{PATH}/report", response_model=None)
def report_page(request: Request, rt: RuntimeDep) -> Response:
    me = current_borrower(rt, request)
    if me is None:
        return to_login()
    return render(request, "portal/report.html", me=me, page="report", categories=REPORT_CATEGORIES, message=done_message(request))


@router.post(f"{PATH}/report", response_model=None)
def report(
    request: Request,
    rt: RuntimeDep,
    category: Annotated[str, Form(max_length=32)],
    text: Annotated[str, Form(min_length=1, max_length=4000)],
    csrf: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    me = current_borrower(rt, request)
    if me is None:
        return to_login()
    if (refused := csrf_refusal(request, me, csrf)) is not None:
        return refused
    if category not in REPORT_CATEGORIES:
        return refuse_page(request, me, 422, "Choose one of the categories shown.")
    try:
        _file(rt, me, "report", {"category": category}, text.strip())
    except LendShieldError:
        error = gettext_for(request)("The report could not be sent: please describe what happened.")
        return render(request, "portal/report.html", status=422, me=me, page="report", categories=REPORT_CATEGORIES, error=error)
    return RedirectResponse(f"{PATH}/report?done=reported", status_code=303)


# --- did this really come from the lender? ----------------------------------------------------


@router.get(f"{PATH}/check", response_model=None)
def check_page(request: Request, rt: RuntimeDep) -> Response:
    me = current_borrower(rt, request)
    if me is None:
        return to_login()
    return render(request, "portal/check.html", me=me, page="check")


@router.post(f"{PATH}/check", response_model=None)
def check(
    request: Request, rt: RuntimeDep, code: Annotated[str, Form(max_length=32)], csrf: Annotated[str, Form(max_length=128)] = ""
) -> Response:
    me = current_borrower(rt, request)
    if me is None:
        return to_login()
    if (refused := csrf_refusal(request, me, csrf)) is not None:
        return refused
    with unit_of_work(rt) as session:
        result = verification.check(session, rt, me.principal, code)
    found = {
        "genuine": result.genuine,
        "channel": result.channel,
        "at": portal_views.local_time(result.at, me.tz),
        "collector": result.collector,
        "outcome": result.outcome,
    }
    return render(request, "portal/check.html", me=me, page="check", result=found)


# --- my timeline ------------------------------------------------------------------------------


def _bundle(rt: Runtime, me: Borrower) -> dict[str, Any] | None:
    with unit_of_work(rt) as session:
        try:
            return proofs.bundle_for_subject(session, rt, me.subject_id)
        except NoCheckpoint:
            return None


def _roles_of(rt: Runtime, ids: set[str]) -> dict[str, frozenset[str]]:
    out: dict[str, frozenset[str]] = {}
    with unit_of_work(rt) as session:
        for pid in ids:
            if len(pid) == 36:
                try:
                    out[pid] = principals.get_principal(session, pid).roles
                except LendShieldError:
                    continue
    return out


@router.get(f"{PATH}/timeline", response_model=None)
def timeline(request: Request, rt: RuntimeDep) -> Response:
    me = current_borrower(rt, request)
    if me is None:
        return to_login()
    bundle = _bundle(rt, me)
    rows = []
    if bundle is not None:
        rows = portal_views.timeline(
            rt,
            bundle,
            account_id=me.identity.account_id,
            roles_of=_roles_of(rt, portal_views.actors(bundle) - {me.identity.account_id}),
            tz=me.tz,
            lang=page_lang(request),
            gettext=gettext_for(request),
        )
    return render(
        request,
        "portal/timeline.html",
        me=me,
        page="timeline",
        rows=rows,
        pending=len(bundle["pending"]) if bundle else 0,
        no_checkpoint=bundle is None,
        log_key=log_public_key(rt),
        zone=me.tz.key,
    )


@router.get(f"{PATH}/timeline/bundle.json", response_model=None)
def bundle_download(request: Request, rt: RuntimeDep) -> Response:
    me = current_borrower(rt, request)
    if me is None:
        return Response(status_code=401, headers=SECURITY_HEADERS)
    bundle = _bundle(rt, me)
    if bundle is None:
        return Response(status_code=409, headers=SECURITY_HEADERS)
    headers = dict(SECURITY_HEADERS) | {"Content-Disposition": 'attachment; filename="lendshield-bundle.json"'}
    return Response(proofs.dumps(bundle), media_type="application/json", headers=headers)
