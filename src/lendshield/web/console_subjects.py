"""Console pages for one person: masked fields through the gate, a reveal with a written reason,
and a find-by-number form (posted, so a phone number or resident ID never sits in a URL or log).

Every read is ``subjects.service.read_fields`` (via ``read``, as over the API): policy, consent,
mask or clear, and a ledger entry, also for a refusal. Nothing here decrypts or bypasses it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response

from lendshield.accounts import service as accounts
from lendshield.errors import Forbidden, LendShieldError
from lendshield.policy import Effect
from lendshield.principals import Principal
from lendshield.rights import service as rights
from lendshield.runtime import Runtime
from lendshield.subjects import service as subjects
from lendshield.subjects.errors import ReadDenied
from lendshield.web.console_common import SessionCookie, page, purpose_label, refused, signed_in, usable_purposes, utc
from lendshield.web.deps import RuntimeDep, unit_of_work
from lendshield.web.pages import _lang, _to_login

router = APIRouter(include_in_schema=False)
LOOKUP_FIELDS = ("mobile", "resident_id")
Purpose = Annotated[str, Form(max_length=64)]


def _purposes(request: Request, rt: Runtime, who: Principal) -> list[dict[str, str]]:
    lang = _lang(request)
    found = usable_purposes(rt, who)
    if not found:
        raise Forbidden("no purpose of your role allows reading a person's data")
    return [{"id": p, "label": purpose_label(rt, p, lang)} for p in found]


def _label(request: Request, rt: Runtime, name: str) -> str:
    spec = rt.catalog.fields.get(name)
    if spec is None:
        return name
    return spec.label_zh if _lang(request) == "zh_CN" else spec.label_en


def _view_rows(request: Request, rt: Runtime, view: subjects.SubjectView) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [
        {"name": n, "label": _label(request, rt, n), "value": f.value, "in_clear": f.effect is Effect.CLEAR, "rule_id": f.rule_id}
        for n, f in sorted(view.fields.items())
    ]
    rows += [
        {"name": n, "label": _label(request, rt, n), "denied": True, "rule_id": d.rule_id, "reason": d.reason or ""}
        for n, d in sorted(view.denied.items())
    ]
    return rows


def _read(
    request: Request, rt: Runtime, who: Principal, subject_id: str, purpose: str, *, clear: bool, reason: str | None, fields: list[str]
) -> dict[str, Any]:
    """One read through the gate; a refusal becomes page content (its ledger entry is kept)."""
    try:
        with unit_of_work(rt) as session:
            view = subjects.read_fields(
                session, rt, who, subject_id, fields or None, purpose=purpose, reason=reason, clear=clear, via="read"
            )
    except ReadDenied as exc:
        return {"denied": exc.detail, "denied_rules": exc.extra.get("rules", [])}
    except LendShieldError as exc:
        if exc.status in (404, 410):
            raise
        return {"denied": exc.detail, "denied_rules": [exc.code]}
    return {"rows": _view_rows(request, rt, view), "ledger_seq": view.ledger_seq, "kind": view.kind}


def _requests(rt: Runtime, who: Principal, subject_id: str) -> list[dict[str, Any]] | None:
    r = rights.rules(rt)
    if not who.roles & (r.read_roles | r.work_roles):
        return None
    with unit_of_work(rt) as session:
        views = rights.list_requests_for_subject(session, rt, who, subject_id)
    return [{"id": v.id, "type": v.type, "status": v.status, "filed": utc(v.filed_at), "due_on": v.due_on.isoformat()} for v in views]


def _subject_page(
    request: Request,
    rt: Runtime,
    who: Principal,
    subject_id: str,
    purpose: str | None,
    *,
    reveal: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    purposes = _purposes(request, rt, who)
    with unit_of_work(rt) as session:
        subjects.require_live(session, subject_id)
    # After a reveal the page shows its result only: a second (masked) read would be a second entry.
    masked = None
    if purpose and reveal is None:
        masked = _read(request, rt, who, subject_id, purpose, clear=False, reason=None, fields=[])
    return page(
        request,
        "console/subject.html",
        who,
        status=status,
        subject_id=subject_id,
        purposes=purposes,
        purpose=purpose or "",
        masked=masked,
        reveal=reveal,
        requests=_requests(rt, who, subject_id),
    )


@router.get("/console/subjects", response_model=None)
def find_page(request: Request, rt: RuntimeDep, ls_session: SessionCookie = None) -> Response:
    staff = signed_in(rt, ls_session)
    if staff is None:
        return _to_login()
    try:
        purposes = _purposes(request, rt, staff.who)
    except LendShieldError as exc:
        return refused(request, staff.who, exc)
    return page(request, "console/find.html", staff.who, purposes=purposes, lookup_fields=_lookup_fields(request, rt))


def _lookup_fields(request: Request, rt: Runtime) -> list[dict[str, str]]:
    return [{"id": f, "label": _label(request, rt, f)} for f in LOOKUP_FIELDS]


@router.post("/console/subjects/find", response_model=None)
def find(
    request: Request,
    rt: RuntimeDep,
    field: Annotated[str, Form(pattern="^(mobile|resident_id)$")],
    value: Annotated[str, Form(max_length=64)],
    purpose: Purpose,
    csrf: Annotated[str, Form(max_length=128)] = "",
    ls_session: SessionCookie = None,
) -> Response:
    """``subjects.service.find_by`` (blind index): every lookup, matched or not, is in the ledger."""
    staff = signed_in(rt, ls_session)
    if staff is None:
        return _to_login()
    who = staff.who
    accounts.check_csrf(staff.identity, csrf)
    try:
        purposes = _purposes(request, rt, who)
    except LendShieldError as exc:
        return refused(request, who, exc)
    ctx: dict[str, Any] = {"purposes": purposes, "lookup_fields": _lookup_fields(request, rt), "purpose": purpose, "field": field}
    try:
        with unit_of_work(rt) as session:
            ctx["found"] = subjects.find_by(session, rt, who, field, value.strip(), purpose=purpose)
    except LendShieldError as exc:
        # The value itself is never echoed back: it is the personal data being looked for.
        return page(request, "console/find.html", who, status=exc.status, error=exc.detail, rule=exc.code, **ctx)
    return page(request, "console/find.html", who, **ctx)


@router.get("/console/subjects/{subject_id}", response_model=None)
def subject_page(
    request: Request,
    subject_id: str,
    rt: RuntimeDep,
    purpose: Annotated[str | None, Query(max_length=64)] = None,
    ls_session: SessionCookie = None,
) -> Response:
    staff = signed_in(rt, ls_session)
    if staff is None:
        return _to_login()
    try:
        return _subject_page(request, rt, staff.who, subject_id[:36], purpose or None)
    except LendShieldError as exc:
        return refused(request, staff.who, exc)


@router.post("/console/subjects/{subject_id}/reveal", response_model=None)
def reveal(
    request: Request,
    subject_id: str,
    rt: RuntimeDep,
    purpose: Purpose,
    reason: Annotated[str, Form(max_length=1000)] = "",
    fields: Annotated[list[str] | None, Form()] = None,
    csrf: Annotated[str, Form(max_length=128)] = "",
    ls_session: SessionCookie = None,
) -> Response:
    """Clear text for the fields policy shows in clear to this role and purpose, with the reason
    written into the read's ledger entry; the rest stays masked or refused, each with its rule."""
    staff = signed_in(rt, ls_session)
    if staff is None:
        return _to_login()
    accounts.check_csrf(staff.identity, csrf)
    who, subject_id = staff.who, subject_id[:36]
    names = [f for f in (fields or []) if f in rt.catalog.fields]
    try:
        if not reason.strip():
            result: dict[str, Any] = {"error": "reason"}
            status = 400
        else:
            result = _read(request, rt, who, subject_id, purpose, clear=True, reason=reason.strip(), fields=names)
            result["reason"] = reason.strip()
            status = 200 if "rows" in result else 403
        return _subject_page(request, rt, who, subject_id, purpose, reveal=result, status=status)
    except LendShieldError as exc:
        return refused(request, who, exc)
