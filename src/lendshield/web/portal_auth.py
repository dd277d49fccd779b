"""Portal sign-in (phone, password, then a one-time code), registration and password reset.

The flows are in ``accounts.borrowers``; these routes only carry the challenge in a short-lived
cookie and never say whether a number has an account.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from lendshield.accounts import borrowers
from lendshield.accounts import service as accounts
from lendshield.accounts.errors import LoginFailed, LoginThrottled, WeakPassword
from lendshield.errors import LendShieldError
from lendshield.runtime import Runtime
from lendshield.web.deps import RuntimeDep, unit_of_work
from lendshield.web.portal_common import (
    CHALLENGE_COOKIE,
    CSRF_COOKIE,
    FORM_EXPIRED,
    PATH,
    SESSION_COOKIE,
    client_addr,
    csrf_refusal,
    current_borrower,
    done_message,
    gettext_for,
    pre_csrf_ok,
    refuse_page,
    render,
    set_cookie,
    to_login,
)

router = APIRouter(include_in_schema=False)

# --- sign-in, registration, reset -------------------------------------------------------------


@router.get(PATH, response_model=None)
def home(request: Request, rt: RuntimeDep) -> Response:
    return RedirectResponse(f"{PATH}/data" if current_borrower(rt, request) else f"{PATH}/login", status_code=303)


@router.get(f"{PATH}/login", response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    return render(request, "portal/login.html", message=done_message(request))


def _code_sent(target: str, challenge: borrowers.Challenge, rt: Runtime) -> RedirectResponse:
    response = RedirectResponse(target, status_code=303)
    set_cookie(response, CHALLENGE_COOKIE, challenge.token, int((challenge.expires_at - rt.clock.now()).total_seconds()))
    return response


@router.post(f"{PATH}/login", response_model=None)
def login(
    request: Request,
    rt: RuntimeDep,
    phone: Annotated[str, Form(max_length=40)],
    password: Annotated[str, Form(max_length=256)],
    csrf: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    if not pre_csrf_ok(request, csrf):
        return refuse_page(request, None, 403, FORM_EXPIRED)
    t = gettext_for(request)
    try:
        with unit_of_work(rt) as session:
            challenge = borrowers.begin_sign_in(session, rt, phone=phone, password=password, client_addr=client_addr(request))
    except LoginThrottled:
        return render(request, "portal/login.html", status=429, error=t("Too many attempts; try again later."))
    except LoginFailed:
        return render(request, "portal/login.html", status=401, error=t("The phone number or password is not correct."))
    except LendShieldError:  # e.g. no number on record to send the code to
        return render(request, "portal/login.html", status=409, error=t("Sign-in is not possible right now; please contact us."))
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
    if not pre_csrf_ok(request, csrf):
        return refuse_page(request, None, 403, FORM_EXPIRED)
    t = gettext_for(request)
    try:
        with unit_of_work(rt) as session:
            signed = borrowers.finish_sign_in(
                session, rt, challenge=request.cookies.get(CHALLENGE_COOKIE, ""), code=code, client_addr=client_addr(request)
            )
    except LoginThrottled:
        return render(request, "portal/code.html", status=429, flow="login", error=t("Too many attempts; try again later."))
    except LoginFailed:
        return render(request, "portal/code.html", status=401, flow="login", error=t("The code is not correct or has expired."))
    response = RedirectResponse(f"{PATH}/data", status_code=303)
    max_age = int((signed.expires_at - rt.clock.now()).total_seconds())
    set_cookie(response, SESSION_COOKIE, signed.session_token, max_age)
    set_cookie(response, CSRF_COOKIE, signed.csrf_token, max_age)
    response.delete_cookie(CHALLENGE_COOKIE, path=PATH)
    return response


@router.post(f"{PATH}/logout", response_model=None)
def logout(request: Request, rt: RuntimeDep, csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
    me = current_borrower(rt, request)
    if me is not None:
        if (refused := csrf_refusal(request, me, csrf)) is not None:
            return refused
        with unit_of_work(rt) as session:
            accounts.sign_out(session, rt, request.cookies.get(SESSION_COOKIE, ""))
    response = to_login()
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
    if not pre_csrf_ok(request, csrf):
        return refuse_page(request, None, 403, FORM_EXPIRED)
    t = gettext_for(request)
    begin = borrowers.begin_registration if flow == "register" else borrowers.begin_reset
    try:
        with unit_of_work(rt) as session:
            challenge = begin(session, rt, phone=phone, client_addr=client_addr(request))
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
    if not pre_csrf_ok(request, csrf):
        return refuse_page(request, None, 403, FORM_EXPIRED)
    t = gettext_for(request)
    if password != confirm:
        return render(request, "portal/code.html", status=422, flow=flow, error=t("The two passwords are not the same."))
    challenge = request.cookies.get(CHALLENGE_COOKIE, "")
    try:
        with unit_of_work(rt) as session:
            if flow == "register":
                borrowers.finish_registration(
                    session, rt, challenge=challenge, code=code, password=password, client_addr=client_addr(request)
                )
            else:
                borrowers.finish_reset(session, rt, challenge=challenge, code=code, password=password, client_addr=client_addr(request))
    except WeakPassword as exc:
        problems = [t(p) for p in exc.extra.get("problems", [])]
        return render(request, "portal/code.html", status=422, flow=flow, error=t("Choose a stronger password."), problems=problems)
    except LoginThrottled:
        return render(request, "portal/code.html", status=429, flow=flow, error=t("Too many attempts; try again later."))
    except LoginFailed:
        return render(request, "portal/code.html", status=401, flow=flow, error=t("The code is not correct or has expired."))
    except LendShieldError:
        return render(request, "portal/code.html", status=409, flow=flow, error=t("Sign-in is not possible right now; please contact us."))
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
