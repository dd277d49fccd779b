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
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import structlog
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from lendshield.accounts import borrowers
from lendshield.accounts import service as accounts
from lendshield.accounts.errors import LoginFailed, LoginThrottled, SessionInvalid, WeakPassword
from lendshield.crypto import constant_time_equal
from lendshield.errors import Forbidden, LendShieldError, NotFound
from lendshield.ledger import proofs
from lendshield.ledger.errors import NoCheckpoint
from lendshield.principals import Principal
from lendshield.principals import service as principals
from lendshield.runtime import Runtime
from lendshield.subjects import service as subjects
from lendshield.web import i18n, portal_views
from lendshield.web.deps import RuntimeDep, unit_of_work
from lendshield.web.pages import LANG_COOKIE, SECURITY_HEADERS

TEMPLATES = Path(__file__).resolve().parent / "templates"
SESSION_COOKIE = "ls_portal"
CSRF_COOKIE = "ls_portal_csrf"
CHALLENGE_COOKIE = "ls_portal_challenge"
PRE_CSRF_COOKIE = "ls_portal_pre"
PATH = "/portal"
PURPOSE = "self_service"
FILE_TYPES = ("access", "portability", "deletion", "restriction")
DONE = {
    "withdrawn": "Your consent was withdrawn. We no longer process your data for that purpose.",
    "filed": "Your request was filed. We answer by the date shown.",
    "reported": "Your report was sent to our personal-information protection officer.",
    "registered": "Your account is ready. Sign in with your phone number and password.",
    "reset": "Your password was changed. Sign in with the new one; other sessions were signed out.",
}

router = APIRouter(include_in_schema=False)
log = structlog.get_logger("lendshield.web.portal")
_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]), extensions=["jinja2.ext.i18n"])


@dataclass(frozen=True, slots=True)
class Borrower:
    principal: Principal
    identity: accounts.AccountIdentity
    subject_id: str
    tz: ZoneInfo


def _lang(request: Request) -> str:
    wanted = request.query_params.get("lang")
    return wanted if wanted in i18n.LANGUAGES else i18n.choose(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))


def _cookie(response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, path=PATH, secure=True, httponly=True, samesite="strict")


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    lang = _lang(request)
    t = i18n.translations(lang)
    me = context.get("me")
    pre = request.cookies.get(PRE_CSRF_COOKIE) or secrets.token_urlsafe(24)
    html = _env.get_template(template).render(
        lang=lang,
        _=t.gettext,
        gettext=t.gettext,
        ngettext=t.ngettext,
        csrf=request.cookies.get(CSRF_COOKIE, "") if me else pre,
        **context,
    )
    response = HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
    if not me and not request.cookies.get(PRE_CSRF_COOKIE):
        _cookie(response, PRE_CSRF_COOKIE, pre, 3600)
    if request.query_params.get("lang") in i18n.LANGUAGES:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, secure=True, httponly=True, samesite="strict")
    return response


def _gettext(request: Request) -> Any:
    return i18n.translations(_lang(request)).gettext


def _addr(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _borrower(rt: Runtime, request: Request) -> Borrower | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    with unit_of_work(rt) as session:
        try:
            identity = accounts.resolve_session(session, rt, token)
        except SessionInvalid:
            return None
        if identity.kind != "borrower" or identity.subject_id is None:
            return None
        timezone_of = getattr(subjects, "timezone_of", None)
        try:
            tz_name = str(timezone_of(session, identity.subject_id)) if timezone_of else None
        except LendShieldError:
            tz_name = None
    return Borrower(borrowers.portal_principal(identity.account_id), identity, identity.subject_id, portal_views.zone(tz_name))


def _to_login() -> RedirectResponse:
    return RedirectResponse(f"{PATH}/login", status_code=303)


def _refused(request: Request, me: Borrower | None, status: int, message: str) -> HTMLResponse:
    return render(request, "portal/error.html", status=status, me=me, error=_gettext(request)(message))


def _check_pre_csrf(request: Request, presented: str) -> bool:
    expected = request.cookies.get(PRE_CSRF_COOKIE, "")
    return bool(expected and presented) and constant_time_equal(expected.encode(), presented.encode())


def _check_csrf(request: Request, me: Borrower, presented: str) -> HTMLResponse | None:
    try:
        accounts.check_csrf(me.identity, presented)
    except Forbidden:
        log.warning("portal_csrf_refused", account=me.identity.account_id, path=request.url.path)
        return _refused(request, me, 403, "This form has expired or was not sent by this site. Reload the page and try again.")
    return None


def _message(request: Request) -> str | None:
    done = request.query_params.get("done")
    return _gettext(request)(DONE[done]) if done in DONE else None


# --- sign-in, registration, reset -------------------------------------------------------------


@router.get(PATH, response_model=None)
def home(request: Request, rt: RuntimeDep) -> Response:
    return RedirectResponse(f"{PATH}/data" if _borrower(rt, request) else f"{PATH}/login", status_code=303)


@router.get(f"{PATH}/login", response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    return render(request, "portal/login.html", message=_message(request))


def _code_sent(target: str, challenge: borrowers.Challenge, rt: Runtime) -> RedirectResponse:
    response = RedirectResponse(target, status_code=303)
    _cookie(response, CHALLENGE_COOKIE, challenge.token, int((challenge.expires_at - rt.clock.now()).total_seconds()))
    return response


@router.post(f"{PATH}/login", response_model=None)
def login(
    request: Request,
    rt: RuntimeDep,
    phone: Annotated[str, Form(max_length=40)],
    password: Annotated[str, Form(max_length=256)],
    csrf: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    if not _check_pre_csrf(request, csrf):
        return _refused(request, None, 403, "This form has expired or was not sent by this site. Reload the page and try again.")
    t = _gettext(request)
    try:
        with unit_of_work(rt) as session:
            challenge = borrowers.begin_sign_in(session, rt, phone=phone, password=password, client_addr=_addr(request))
    except LoginThrottled:
        return render(request, "portal/login.html", status=429, error=t("Too many attempts; try again later."))
    except LoginFailed:
        return render(request, "portal/login.html", status=401, error=t("The phone number or password is not correct."))
    return _code_sent(f"{PATH}/login/code", challenge, rt)


@router.get(f"{PATH}/login/code", response_class=HTMLResponse)
def code_page(request: Request) -> HTMLResponse:
    return render(request, "portal/code.html", flow="login")


@router.post(f"{PATH}/login/code", response_model=None)
def login_code(
    request: Request,
    rt: RuntimeDep,
    code: Annotated[str, Form(max_length=16)],
    csrf: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    if not _check_pre_csrf(request, csrf):
        return _refused(request, None, 403, "This form has expired or was not sent by this site. Reload the page and try again.")
    t = _gettext(request)
    try:
        with unit_of_work(rt) as session:
            signed = borrowers.finish_sign_in(
                session, rt, challenge=request.cookies.get(CHALLENGE_COOKIE, ""), code=code, client_addr=_addr(request)
            )
    except LoginThrottled:
        return render(request, "portal/code.html", status=429, flow="login", error=t("Too many attempts; try again later."))
    except LoginFailed:
        return render(request, "portal/code.html", status=401, flow="login", error=t("The code is not correct or has expired."))
    response = RedirectResponse(f"{PATH}/data", status_code=303)
    max_age = int((signed.expires_at - rt.clock.now()).total_seconds())
    _cookie(response, SESSION_COOKIE, signed.session_token, max_age)
    _cookie(response, CSRF_COOKIE, signed.csrf_token, max_age)
    response.delete_cookie(CHALLENGE_COOKIE, path=PATH)
    return response


@router.post(f"{PATH}/logout", response_model=None)
def logout(request: Request, rt: RuntimeDep, csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
    me = _borrower(rt, request)
    if me is not None:
        if (refused := _check_csrf(request, me, csrf)) is not None:
            return refused
        with unit_of_work(rt) as session:
            accounts.sign_out(session, rt, request.cookies.get(SESSION_COOKIE, ""))
    response = _to_login()
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        response.delete_cookie(name, path=PATH)
    return response


def _start_page(flow: str) -> Any:
    def page(request: Request) -> HTMLResponse:
        return render(request, "portal/start.html", flow=flow)

    return page


router.add_api_route(f"{PATH}/register", _start_page("register"), methods=["GET"], response_class=HTMLResponse)
router.add_api_route(f"{PATH}/reset", _start_page("reset"), methods=["GET"], response_class=HTMLResponse)


def _start(request: Request, rt: Runtime, flow: str, phone: str, csrf: str) -> Response:
    if not _check_pre_csrf(request, csrf):
        return _refused(request, None, 403, "This form has expired or was not sent by this site. Reload the page and try again.")
    t = _gettext(request)
    begin = borrowers.begin_registration if flow == "register" else borrowers.begin_reset
    try:
        with unit_of_work(rt) as session:
            challenge = begin(session, rt, phone=phone, client_addr=_addr(request))
    except LoginThrottled:
        return render(request, "portal/start.html", status=429, flow=flow, error=t("Too many codes requested; try again later."))
    except LendShieldError:
        return render(request, "portal/start.html", status=422, flow=flow, error=t("That is not a valid mobile number."))
    return _code_sent(f"{PATH}/{flow}/finish", challenge, rt)


@router.post(f"{PATH}/register", response_model=None)
def register(
    request: Request, rt: RuntimeDep, phone: Annotated[str, Form(max_length=40)], csrf: Annotated[str, Form(max_length=128)] = ""
) -> Response:
    return _start(request, rt, "register", phone, csrf)


@router.post(f"{PATH}/reset", response_model=None)
def reset(
    request: Request, rt: RuntimeDep, phone: Annotated[str, Form(max_length=40)], csrf: Annotated[str, Form(max_length=128)] = ""
) -> Response:
    return _start(request, rt, "reset", phone, csrf)


def _finish_page(flow: str) -> Any:
    def page(request: Request) -> HTMLResponse:
        return render(request, "portal/code.html", flow=flow)

    return page


router.add_api_route(f"{PATH}/register/finish", _finish_page("register"), methods=["GET"], response_class=HTMLResponse)
router.add_api_route(f"{PATH}/reset/finish", _finish_page("reset"), methods=["GET"], response_class=HTMLResponse)


def _finish(request: Request, rt: Runtime, flow: str, code: str, password: str, confirm: str, csrf: str) -> Response:
    if not _check_pre_csrf(request, csrf):
        return _refused(request, None, 403, "This form has expired or was not sent by this site. Reload the page and try again.")
    t = _gettext(request)
    if password != confirm:
        return render(request, "portal/code.html", status=422, flow=flow, error=t("The two passwords are not the same."))
    challenge = request.cookies.get(CHALLENGE_COOKIE, "")
    try:
        with unit_of_work(rt) as session:
            if flow == "register":
                borrowers.finish_registration(session, rt, challenge=challenge, code=code, password=password, client_addr=_addr(request))
            else:
                borrowers.finish_reset(session, rt, challenge=challenge, code=code, password=password, client_addr=_addr(request))
    except WeakPassword as exc:
        problems = [t(p) for p in exc.extra.get("problems", [])]
        return render(request, "portal/code.html", status=422, flow=flow, error=t("Choose a stronger password."), problems=problems)
    except LoginThrottled:
        return render(request, "portal/code.html", status=429, flow=flow, error=t("Too many attempts; try again later."))
    except LoginFailed:
        return render(request, "portal/code.html", status=401, flow=flow, error=t("The code is not correct or has expired."))
    response = RedirectResponse(f"{PATH}/login?done={'registered' if flow == 'register' else 'reset'}", status_code=303)
    response.delete_cookie(CHALLENGE_COOKIE, path=PATH)
    return response


@router.post(f"{PATH}/register/finish", response_model=None)
def register_finish(
    request: Request,
    rt: RuntimeDep,
    code: Annotated[str, Form(max_length=16)],
    password: Annotated[str, Form(max_length=256)],
    confirm: Annotated[str, Form(max_length=256)],
    csrf: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    return _finish(request, rt, "register", code, password, confirm, csrf)


@router.post(f"{PATH}/reset/finish", response_model=None)
def reset_finish(
    request: Request,
    rt: RuntimeDep,
    code: Annotated[str, Form(max_length=16)],
    password: Annotated[str, Form(max_length=256)],
    confirm: Annotated[str, Form(max_length=256)],
    csrf: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    return _finish(request, rt, "reset", code, password, confirm, csrf)


# --- my data, my consents ---------------------------------------------------------------------


@router.get(f"{PATH}/data", response_model=None)
def my_data(request: Request, rt: RuntimeDep) -> Response:
    me = _borrower(rt, request)
    if me is None:
        return _to_login()
    lang = _lang(request)
    rows: list[dict[str, str]] = []
    error = None
    try:
        with unit_of_work(rt) as session:
            view = subjects.read_fields(session, rt, me.principal, me.subject_id, purpose=PURPOSE, reason=None)
    except LendShieldError:
        error = _gettext(request)("Your data cannot be shown right now.")
    else:
        for name, field in view.fields.items():
            spec = rt.catalog.fields[name]
            rows.append({"label": spec.label_zh if lang == "zh_CN" else spec.label_en, "value": field.value})
    return render(request, "portal/data.html", me=me, page="data", rows=rows, error=error)


def _consent_rows(rt: Runtime, me: Borrower, lang: str) -> list[dict[str, Any]]:
    from lendshield.consent import service as consent

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
    me = _borrower(rt, request)
    if me is None:
        return _to_login()
    rows = _consent_rows(rt, me, _lang(request))
    return render(request, "portal/consents.html", me=me, page="consents", rows=rows, message=_message(request))


@router.post(f"{PATH}/consents/withdraw", response_model=None)
def withdraw(
    request: Request,
    rt: RuntimeDep,
    purpose: Annotated[str, Form(max_length=64, pattern=r"^[a-z][a-z0-9_]*$")],
    kind: Annotated[str, Form(max_length=32, pattern=r"^[a-z_]+$")] = "purpose",
    csrf: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    from lendshield.consent import service as consent

    me = _borrower(rt, request)
    if me is None:
        return _to_login()
    if (refused := _check_csrf(request, me, csrf)) is not None:
        return refused
    try:
        with unit_of_work(rt) as session:
            consent.record(session, rt, me.principal, me.subject_id, purpose=purpose, action="withdraw", kind=kind, channel="web")
    except LendShieldError:
        rows = _consent_rows(rt, me, _lang(request))
        error = _gettext(request)("There is no consent to withdraw for that purpose.")
        return render(request, "portal/consents.html", status=409, me=me, page="consents", rows=rows, error=error)
    return RedirectResponse(f"{PATH}/consents?done=withdrawn", status_code=303)


# --- my requests, report ----------------------------------------------------------------------


def _request_rows(rt: Runtime, me: Borrower) -> list[dict[str, Any]]:
    from lendshield.rights import service as rights

    today = rt.clock.now().astimezone(me.tz).date()
    with unit_of_work(rt) as session:
        views = rights.list_requests_for_subject(session, rt, me.principal)
    return [
        {
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
        for v in views
    ]


def _grounds() -> list[str]:
    from lendshield.rights.params import DELETION_GROUNDS

    return list(DELETION_GROUNDS)


@router.get(f"{PATH}/requests", response_model=None)
def my_requests(request: Request, rt: RuntimeDep) -> Response:
    me = _borrower(rt, request)
    if me is None:
        return _to_login()
    return render(
        request,
        "portal/requests.html",
        me=me,
        page="requests",
        rows=_request_rows(rt, me),
        types=FILE_TYPES,
        grounds=_grounds(),
        message=_message(request),
    )


def _file(rt: Runtime, me: Borrower, request_type: str, params: dict[str, Any], text: str | None) -> None:
    from lendshield.rights import service as rights

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
    me = _borrower(rt, request)
    if me is None:
        return _to_login()
    if (refused := _check_csrf(request, me, csrf)) is not None:
        return refused
    t = _gettext(request)
    if type not in FILE_TYPES:
        return _refused(request, me, 422, "Choose one of the request types shown.")
    params: dict[str, Any] = (
        {"ground": ground}
        if type == "deletion"
        else ({"lang": "en" if _lang(request) == "en" else "zh"} if type in ("access", "portability") else {})
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
    from lendshield.rights import service as rights
    from lendshield.rights.errors import NotYourData

    me = _borrower(rt, request)
    if me is None:
        return _to_login()
    if not re.fullmatch(r"[0-9a-f-]{36}", request_id):
        return _refused(request, me, 404, "There is no such request of yours.")
    try:
        with unit_of_work(rt) as session:
            view = rights.get_request(session, rt, me.principal, request_id)
    except NotYourData:
        # Someone else's id: the refusal is in that person's ledger; here we only log the account.
        log.warning("portal_foreign_reference", account=me.identity.account_id, kind="rights_request")
        return _refused(request, me, 404, "There is no such request of yours.")
    except NotFound:
        return _refused(request, me, 404, "There is no such request of yours.")
    today = rt.clock.now().astimezone(me.tz).date()
    row = {
        "id": view.id,
        "type": view.type,
        "status": view.status,
        "filed": portal_views.local_time(view.filed_at, me.tz),
        "due": view.due_on.isoformat(),
        "days_left": portal_views.days_left(view.due_on, today),
        "open": view.status in rights.OPEN_STATUSES,
        "estimated": view.deadline_note is not None,
        "refusal": view.refusal_reason,
        "outcome": view.outcome,
        "answered": portal_views.local_time(view.answered_at, me.tz),
        "extension": view.extension_reason,
        "params": view.params,
    }
    return render(request, "portal/request.html", me=me, page="requests", row=row)


REPORT_CATEGORIES = ("suspected_leak", "abuse", "collection_conduct", "other")


@router.get(f"{PATH}/report", response_model=None)
def report_page(request: Request, rt: RuntimeDep) -> Response:
    me = _borrower(rt, request)
    if me is None:
        return _to_login()
    return render(request, "portal/report.html", me=me, page="report", categories=REPORT_CATEGORIES, message=_message(request))


@router.post(f"{PATH}/report", response_model=None)
def report(
    request: Request,
    rt: RuntimeDep,
    category: Annotated[str, Form(max_length=32)],
    text: Annotated[str, Form(min_length=1, max_length=4000)],
    csrf: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    me = _borrower(rt, request)
    if me is None:
        return _to_login()
    if (refused := _check_csrf(request, me, csrf)) is not None:
        return refused
    if category not in REPORT_CATEGORIES:
        return _refused(request, me, 422, "Choose one of the categories shown.")
    try:
        _file(rt, me, "report", {"category": category}, text.strip())
    except LendShieldError:
        error = _gettext(request)("The report could not be sent: please describe what happened.")
        return render(request, "portal/report.html", status=422, me=me, page="report", categories=REPORT_CATEGORIES, error=error)
    return RedirectResponse(f"{PATH}/report?done=reported", status_code=303)


# --- did this really come from the lender? ----------------------------------------------------


@router.get(f"{PATH}/check", response_model=None)
def check_page(request: Request, rt: RuntimeDep) -> Response:
    me = _borrower(rt, request)
    if me is None:
        return _to_login()
    return render(request, "portal/check.html", me=me, page="check")


@router.post(f"{PATH}/check", response_model=None)
def check(
    request: Request, rt: RuntimeDep, code: Annotated[str, Form(max_length=32)], csrf: Annotated[str, Form(max_length=128)] = ""
) -> Response:
    from lendshield.collection import verification

    me = _borrower(rt, request)
    if me is None:
        return _to_login()
    if (refused := _check_csrf(request, me, csrf)) is not None:
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
    me = _borrower(rt, request)
    if me is None:
        return _to_login()
    bundle = _bundle(rt, me)
    rows = []
    if bundle is not None:
        rows = portal_views.timeline(
            rt,
            bundle,
            account_id=me.identity.account_id,
            roles_of=_roles_of(rt, portal_views.actors(bundle) - {me.identity.account_id}),
            tz=me.tz,
            lang=_lang(request),
            gettext=_gettext(request),
        )
    from lendshield.ledger.tree import log_public_key

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
    me = _borrower(rt, request)
    if me is None:
        return Response(status_code=401, headers=SECURITY_HEADERS)
    bundle = _bundle(rt, me)
    if bundle is None:
        return Response(status_code=409, headers=SECURITY_HEADERS)
    headers = dict(SECURITY_HEADERS) | {"Content-Disposition": 'attachment; filename="lendshield-bundle.json"'}
    return Response(proofs.dumps(bundle), media_type="application/json", headers=headers)
