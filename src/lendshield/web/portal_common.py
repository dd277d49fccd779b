"""What every portal page shares: cookies, CSRF, rendering, and who the signed-in borrower is.

Cookies are Secure, HttpOnly, SameSite=Strict and scoped to ``/portal``. Every form carries a
CSRF token: the session's once signed in, a double-submit cookie before (login CSRF).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from lendshield.accounts import borrowers
from lendshield.accounts import service as accounts
from lendshield.accounts.errors import SessionInvalid
from lendshield.crypto import constant_time_equal
from lendshield.errors import Forbidden, LendShieldError
from lendshield.principals import Principal
from lendshield.runtime import Runtime
from lendshield.subjects import service as subjects
from lendshield.web import i18n, portal_views
from lendshield.web.deps import unit_of_work
from lendshield.web.pages import LANG_COOKIE, SECURITY_HEADERS

TEMPLATES = Path(__file__).resolve().parent / "templates"
FORM_EXPIRED = "This form has expired or was not sent by this site. Reload the page and try again."
SESSION_COOKIE = "ls_portal"
CSRF_COOKIE = "ls_portal_csrf"
CHALLENGE_COOKIE = "ls_portal_challenge"
PRE_CSRF_COOKIE = "ls_portal_pre"
PATH = "/portal"
DONE = {
    "withdrawn": "Your consent was withdrawn. We no longer process your data for that purpose.",
    "filed": "Your request was filed. We answer by the date shown.",
    "reported": "Your report was sent to our personal-information protection officer.",
    "registered": "Your account is ready. Sign in with your phone number and password.",
    "reset": "Your password was changed. Sign in with the new one; other sessions were signed out.",
}

log = structlog.get_logger("lendshield.web.portal")
_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]), extensions=["jinja2.ext.i18n"])


@dataclass(frozen=True, slots=True)
class Borrower:
    principal: Principal
    identity: accounts.AccountIdentity
    subject_id: str
    tz: ZoneInfo


def page_lang(request: Request) -> str:
    wanted = request.query_params.get("lang")
    return wanted if wanted in i18n.LANGUAGES else i18n.choose(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))


def set_cookie(response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, path=PATH, secure=True, httponly=True, samesite="strict")


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    lang = page_lang(request)
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
        set_cookie(response, PRE_CSRF_COOKIE, pre, 3600)
    if request.query_params.get("lang") in i18n.LANGUAGES:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, secure=True, httponly=True, samesite="strict")
    return response


def gettext_for(request: Request) -> Any:
    return i18n.translations(page_lang(request)).gettext


def client_addr(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def current_borrower(rt: Runtime, request: Request) -> Borrower | None:
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
        try:
            tz_name: str | None = subjects.timezone_of(session, identity.subject_id)
        except LendShieldError:  # a shredded person still sees the pages that need no data
            tz_name = None
    return Borrower(borrowers.portal_principal(identity.account_id), identity, identity.subject_id, portal_views.zone(tz_name))


def to_login() -> RedirectResponse:
    return RedirectResponse(f"{PATH}/login", status_code=303)


def refuse_page(request: Request, me: Borrower | None, status: int, message: str) -> HTMLResponse:
    return render(request, "portal/error.html", status=status, me=me, error=gettext_for(request)(message))


def pre_csrf_ok(request: Request, presented: str) -> bool:
    expected = request.cookies.get(PRE_CSRF_COOKIE, "")
    return bool(expected and presented) and constant_time_equal(expected.encode(), presented.encode())


def csrf_refusal(request: Request, me: Borrower, presented: str) -> HTMLResponse | None:
    try:
        accounts.check_csrf(me.identity, presented)
    except Forbidden:
        log.warning("portal_csrf_refused", account=me.identity.account_id, path=request.url.path)
        return refuse_page(request, me, 403, FORM_EXPIRED)
    return None


def done_message(request: Request) -> str | None:
    done = request.query_params.get("done")
    return gettext_for(request)(DONE[done]) if done in DONE else None
