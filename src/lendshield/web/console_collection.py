"""Console pages for collectors: their loans, who may be contacted (masked), and a compose box
with live screening; sending goes through the same guard as the API (R9)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Cookie, Form, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select

from lendshield.accounts import service as accounts
from lendshield.collection import service as collection
from lendshield.collection.errors import ContactBlocked, MessageScreened, NotCollector
from lendshield.collection.models import ContactRow
from lendshield.errors import LendShieldError
from lendshield.loans.models import LoanRow
from lendshield.principals import Principal
from lendshield.runtime import Runtime
from lendshield.subjects import service as subjects
from lendshield.web.deps import RuntimeDep, unit_of_work
from lendshield.web.pages import SECURITY_HEADERS, _csrf_for, _staff, _to_login, render

router = APIRouter(include_in_schema=False)
Session = Annotated[str | None, Cookie(alias="ls_session")]


def _loans(rt: Runtime, who: Principal) -> list[LoanRow]:
    with rt.sessions() as session:
        return list(
            session.scalars(
                select(LoanRow)
                .where(LoanRow.assigned_collector_id == who.id, LoanRow.status == "overdue")
                .order_by(LoanRow.overdue_days.desc())
            )
        )


def _loan_context(rt: Runtime, who: Principal, loan_id: str) -> dict[str, Any]:
    with unit_of_work(rt) as session:
        loan = collection.loan_for_contact(session, who, loan_id[:64])
        if loan.assigned_collector_id != who.id:
            raise NotCollector("this loan is not assigned to you")
        targets = []
        for t in collection.targets(session, rt, loan, who=who):
            view = subjects.read_fields(session, rt, who, t.id, ["name", "mobile"], purpose="collection", reason=None, via="console")
            targets.append(
                {
                    "id": t.id,
                    "role": t.role,
                    "relation": t.relation,
                    "name": view.fields["name"].value if "name" in view.fields else "",
                    "mobile": view.fields["mobile"].value if "mobile" in view.fields else "",
                }
            )
        records = session.scalars(
            select(ContactRow).where(ContactRow.loan_id == loan.id).order_by(ContactRow.created_at.desc()).limit(50)
        ).all()
        return {
            "loan": {"id": loan.id, "overdue_days": loan.overdue_days},
            "targets": targets,
            "records": [
                {"at": r.created_at, "channel": r.channel, "role": r.target_role, "outcome": r.outcome, "rule_id": r.rule_id or ""}
                for r in records
            ],
        }


def _staff_or_none(rt: Runtime, token: str | None) -> tuple[Principal, accounts.AccountIdentity] | None:
    return _staff(rt, token)


@router.get("/console/collection", response_model=None)
def loans_page(request: Request, rt: RuntimeDep, ls_session: Session = None) -> Response:
    staff = _staff_or_none(rt, ls_session)
    if staff is None:
        return _to_login()
    who, _ = staff
    loans = [{"id": loan.id, "overdue_days": loan.overdue_days} for loan in _loans(rt, who)]
    return render(
        request, "console/collection.html", staff={"name": who.name, "roles": sorted(who.roles)}, loans=loans, csrf=_csrf_for(request)
    )


@router.get("/console/collection/{loan_id}", response_model=None)
def contact_page(request: Request, loan_id: str, rt: RuntimeDep, ls_session: Session = None) -> Response:
    staff = _staff_or_none(rt, ls_session)
    if staff is None:
        return _to_login()
    who, _ = staff
    staff_ctx = {"name": who.name, "roles": sorted(who.roles)}
    try:
        ctx = _loan_context(rt, who, loan_id)
    except LendShieldError as exc:
        return render(request, "console/contact.html", status=exc.status, staff=staff_ctx, csrf=_csrf_for(request), error=exc.detail)
    return render(request, "console/contact.html", staff=staff_ctx, csrf=_csrf_for(request), **ctx)


@router.post("/console/collection/screen", response_model=None)
def live_screen(
    rt: RuntimeDep,
    text: Annotated[str, Form(max_length=1000)] = "",
    audience: Annotated[str, Form(pattern="^(debtor|third_party)$")] = "debtor",
    csrf: Annotated[str, Form(max_length=128)] = "",
    ls_session: Session = None,
) -> Response:
    """What the compose box shows while the collector types (nothing is recorded or sent)."""
    staff = _staff_or_none(rt, ls_session)
    if staff is None:
        return JSONResponse({"error": "signed out"}, status_code=401, headers=SECURITY_HEADERS)
    accounts.check_csrf(staff[1], csrf)
    hits = collection.screen(rt, text, audience) if text.strip() else []  # type: ignore[arg-type]
    body = {"allowed": not hits, "hits": [{"rule_id": h.rule_id, "category": h.category, "start": h.start, "end": h.end} for h in hits]}
    return JSONResponse(body, headers=SECURITY_HEADERS)


@router.post("/console/collection/{loan_id}/contact", response_model=None)
def send(
    request: Request,
    loan_id: str,
    rt: RuntimeDep,
    channel: Annotated[str, Form(pattern="^(call|sms)$")],
    target_id: Annotated[str, Form(max_length=36)],
    text: Annotated[str, Form(max_length=1000)] = "",
    csrf: Annotated[str, Form(max_length=128)] = "",
    ls_session: Session = None,
) -> Response:
    staff = _staff_or_none(rt, ls_session)
    if staff is None:
        return _to_login()
    who, identity = staff
    accounts.check_csrf(identity, csrf)
    result: dict[str, Any] = {}
    status = 200
    try:
        with unit_of_work(rt) as session:
            done = collection.start_contact(
                session,
                rt,
                who,
                loan_id[:64],
                channel="call" if channel == "call" else "sms",
                target_id=target_id or None,
                text=text or None,
            )
        result = {"ok": True, "masked_to": done.masked_to, "code": done.verification_code, "outcome": done.outcome}
    except MessageScreened as exc:
        status = 409
        hits = exc.extra.get("hits", [])
        result = {
            "ok": False,
            "rule_ids": sorted({h["rule_id"] for h in hits}),
            "spans": [text[h["start"] : h["end"]] for h in hits],
            "detail": exc.detail,
        }
    except ContactBlocked as exc:
        status = 409
        result = {"ok": False, "rule_ids": [exc.rule_id], "spans": [], "detail": exc.detail, "next": exc.extra.get("next_allowed_at")}
    except LendShieldError as exc:
        status = exc.status
        result = {"ok": False, "rule_ids": [], "spans": [], "detail": exc.detail}
    staff_ctx = {"name": who.name, "roles": sorted(who.roles)}
    try:
        ctx = _loan_context(rt, who, loan_id)
    except LendShieldError as exc:
        return render(request, "console/contact.html", status=exc.status, staff=staff_ctx, csrf=_csrf_for(request), error=exc.detail)
    return render(
        request, "console/contact.html", status=status, staff=staff_ctx, csrf=_csrf_for(request), result=result, draft=text, **ctx
    )
