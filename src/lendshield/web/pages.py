"""Server-rendered pages of the staff console (Jinja2, no front-end build, no external resources).

Sessions live in a Secure, HttpOnly, SameSite=Strict cookie; every form carries the session's
CSRF token; every page is rendered with autoescaping, so text from any field is shown, not run.
This module holds sign-in, sign-out and the device approval queue; the dashboard and the other
console pages live in ``console_*`` modules built on ``render`` and ``_staff`` from here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Cookie, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import func, select

from lendshield.accounts import service as accounts
from lendshield.accounts.errors import LoginFailed, LoginThrottled, SessionInvalid
from lendshield.devices import service as devices
from lendshield.devices.models import ApprovalRow, CommandRequestRow, CommandRow, DeviceRow
from lendshield.errors import LendShieldError
from lendshield.loans.models import LoanRow
from lendshield.principals import Principal
from lendshield.principals import service as principals
from lendshield.runtime import Runtime
from lendshield.web import i18n
from lendshield.web.deps import RuntimeDep, unit_of_work

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"
SESSION_COOKIE = "ls_session"
LANG_COOKIE = "ls_lang"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

router = APIRouter(include_in_schema=False)
_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]), extensions=["jinja2.ext.i18n"])


def mount_static(app: Any) -> None:
    app.mount("/static", StaticFiles(directory=STATIC), name="static")


def _lang(request: Request) -> str:
    wanted = request.query_params.get("lang")
    return wanted if wanted in i18n.LANGUAGES else i18n.choose(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    lang = _lang(request)
    translations = i18n.translations(lang)
    tmpl = _env.get_template(template)
    html = tmpl.render(lang=lang, _=translations.gettext, gettext=translations.gettext, ngettext=translations.ngettext, **context)
    response = HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
    if request.query_params.get("lang") in i18n.LANGUAGES:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, secure=True, httponly=True, samesite="strict")
    return response


def _staff(rt: Runtime, token: str | None) -> tuple[Principal, accounts.AccountIdentity] | None:
    if not token:
        return None
    with unit_of_work(rt) as session:
        try:
            identity = accounts.resolve_session(session, rt, token)
        except SessionInvalid:
            return None
        if identity.kind != "staff" or identity.principal_id is None:
            return None
        return principals.get_principal(session, identity.principal_id), identity


def _csrf_for(request: Request) -> str:
    return request.cookies.get("ls_csrf", "")


def _to_login() -> RedirectResponse:
    return RedirectResponse("/console/login", status_code=303)


@router.get("/console/login", response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    return render(request, "console/login.html")


@router.post("/console/login", response_model=None)
def login(
    request: Request,
    rt: RuntimeDep,
    username: Annotated[str, Form(max_length=120)],
    password: Annotated[str, Form(max_length=256)],
    code: Annotated[str, Form(max_length=32)],
) -> Response:
    addr = request.client.host if request.client else "unknown"
    translations = i18n.translations(_lang(request))
    try:
        with unit_of_work(rt) as session:
            signed = accounts.sign_in(session, rt, kind="staff", login=username, password=password, code=code.strip(), client_addr=addr)
    except LoginThrottled:
        return render(request, "console/login.html", status=429, error=translations.gettext("Too many failed sign-ins; try again later."))
    except LoginFailed:
        return render(
            request,
            "console/login.html",
            status=401,
            error=translations.gettext("The user name, password or one-time code is not correct."),
        )
    response = RedirectResponse("/console", status_code=303)
    max_age = int((signed.expires_at - rt.clock.now()).total_seconds())
    response.set_cookie(SESSION_COOKIE, signed.session_token, max_age=max_age, secure=True, httponly=True, samesite="strict")
    # The CSRF token is readable by our own pages only through the forms we render from this cookie.
    response.set_cookie("ls_csrf", signed.csrf_token, max_age=max_age, secure=True, httponly=True, samesite="strict")
    return response


@router.post("/console/logout", response_model=None)
def logout(rt: RuntimeDep, csrf: Annotated[str, Form(max_length=128)] = "", ls_session: Annotated[str | None, Cookie()] = None) -> Response:
    staff = _staff(rt, ls_session)
    if staff is not None and ls_session:
        accounts.check_csrf(staff[1], csrf)
        with unit_of_work(rt) as session:
            accounts.sign_out(session, rt, ls_session)
    response = _to_login()
    response.delete_cookie(SESSION_COOKIE)
    response.delete_cookie("ls_csrf")
    return response


def _pending(rt: Runtime, who: Principal) -> list[dict[str, Any]]:
    rules = devices.DeviceRules()
    if not who.roles & set(rules.approver_roles):
        return []
    out = []
    with unit_of_work(rt) as session:
        for req in session.scalars(
            select(CommandRequestRow).where(CommandRequestRow.status == "pending").order_by(CommandRequestRow.requested_at)
        ):
            device = session.get(DeviceRow, req.device_id)
            loan = session.get(LoanRow, device.loan_id) if device else None
            reminders = (
                session.scalar(
                    select(func.count())
                    .select_from(CommandRow)
                    .where(CommandRow.device_id == req.device_id, CommandRow.command == "remind", CommandRow.acked_at.is_not(None))
                )
                or 0
            )
            approvals = [a.role for a in session.scalars(select(ApprovalRow).where(ApprovalRow.request_id == req.id))]
            out.append(
                {
                    "id": req.id,
                    "command": req.command,
                    "reason_code": req.reason_code,
                    "reason_text": req.reason_text,
                    "overdue_days": loan.overdue_days if loan else "?",
                    "reminders": reminders,
                    "approvals": approvals,
                }
            )
    return out


def _queue_page(request: Request, rt: Runtime, ls_session: str | None, template: str) -> Response:
    staff = _staff(rt, ls_session)
    if staff is None:
        return _to_login()
    who, _ = staff
    return render(
        request, template, staff={"name": who.name, "roles": sorted(who.roles)}, pending=_pending(rt, who), csrf=_csrf_for(request)
    )


@router.get("/console/approvals", response_model=None)
def approvals(request: Request, rt: RuntimeDep, ls_session: Annotated[str | None, Cookie()] = None) -> Response:
    return _queue_page(request, rt, ls_session, "console/approvals.html")


@router.post("/console/approvals/{request_id}", response_model=None)
def review(
    request: Request,
    request_id: str,
    rt: RuntimeDep,
    decision: Annotated[str, Form(pattern="^(approve|deny)$")],
    reason: Annotated[str, Form(min_length=1, max_length=1000)],
    csrf: Annotated[str, Form(max_length=128)] = "",
    ls_session: Annotated[str | None, Cookie()] = None,
) -> Response:
    staff = _staff(rt, ls_session)
    if staff is None:
        return _to_login()
    who, identity = staff
    accounts.check_csrf(identity, csrf)
    translations = i18n.translations(_lang(request))
    try:
        with unit_of_work(rt) as session:
            devices.review(session, rt, who, request_id[:36], approve=decision == "approve", reason=reason, rules=devices.DeviceRules())
        message, failed = translations.gettext("Your review was recorded."), False
    except LendShieldError as exc:
        message, failed = exc.detail, True
    return render(
        request,
        "console/approvals.html",
        status=200 if not failed else 409,
        staff={"name": who.name, "roles": sorted(who.roles)},
        pending=_pending(rt, who),
        csrf=_csrf_for(request),
        message=message,
        failed=failed,
    )
