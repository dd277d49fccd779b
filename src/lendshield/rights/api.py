"""HTTP routes of the rights domain.

Staff call with a bearer token. A borrower calls with their portal session (the ``ls_session``
cookie) and, on every state-changing call, the session's CSRF token in ``X-CSRF-Token``; their
signed-in session is what verifies their identity for requests they file themselves.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Cookie, Depends, Header, Path, Query, Request
from fastapi.responses import Response

from lendshield.accounts import borrowers
from lendshield.accounts import service as accounts
from lendshield.errors import InvalidInput
from lendshield.principals import Principal
from lendshield.rights import alerts, decisions, flows, holds, retention, service, verification
from lendshield.rights.errors import RightsForbidden
from lendshield.rights.models import HoldRow
from lendshield.rights.schemas import (
    AlertOut,
    AssignIn,
    CodeIn,
    DecisionIn,
    DecisionOut,
    ExtendIn,
    FileIn,
    FulfilIn,
    HoldIn,
    HoldOut,
    LiftIn,
    OnTimeOut,
    RefuseIn,
    RequestOut,
    SweepActionOut,
    SweepOut,
)
from lendshield.web.deps import RuntimeDep, current_principal, unit_of_work

router = APIRouter(prefix="/v1/rights", tags=["rights"])
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def rights_caller(
    request: Request,
    rt: RuntimeDep,
    authorization: Annotated[str | None, Header()] = None,
    ls_session: Annotated[str | None, Cookie()] = None,
    x_csrf_token: Annotated[str | None, Header()] = None,
) -> Principal:
    """A staff principal (bearer token) or a borrower's portal principal (session cookie + CSRF)."""
    if authorization or not ls_session:
        return current_principal(rt, authorization)
    with unit_of_work(rt) as session:
        identity = accounts.resolve_session(session, rt, ls_session)
    if identity.kind != "borrower":
        return current_principal(rt, authorization)
    if request.method not in SAFE_METHODS:
        accounts.check_csrf(identity, x_csrf_token)
    return borrowers.portal_principal(identity.account_id)


CallerDep = Annotated[Principal, Depends(rights_caller)]


@router.post("/requests", status_code=201, response_model=RequestOut)
def file_request(
    body: FileIn, rt: RuntimeDep, who: CallerDep, idempotency_key: Annotated[str | None, Header(max_length=128)] = None
) -> RequestOut:
    """File a request (a borrower about themselves; staff on a person's behalf, then verify by code).

    With an ``Idempotency-Key`` header, filing the same request again returns the first one.
    """
    with unit_of_work(rt) as session:
        view = service.file_request(
            session,
            rt,
            who,
            request_type=body.type,
            subject_id=body.subject_id,
            params=body.params,
            text=body.text,
            new_value=body.new_value,
            jurisdiction=body.jurisdiction,
            idempotency_key=idempotency_key,
        )
    return RequestOut.of(view)


@router.get("/requests", response_model=list[RequestOut])
def list_requests(
    rt: RuntimeDep,
    who: CallerDep,
    subject_id: Annotated[str | None, Query(max_length=36)] = None,
    status: Annotated[str | None, Query(max_length=16)] = None,
) -> list[RequestOut]:
    """A borrower's own requests; a person's requests (``subject_id``); or the officers' open queue."""
    with unit_of_work(rt) as session:
        if who.kind == "borrower" or subject_id:
            views = service.list_requests_for_subject(session, rt, who, subject_id)
        else:
            views = service.queue(session, rt, who, status=status)
    return [RequestOut.of(v) for v in views]


@router.get("/requests/{request_id}", response_model=RequestOut)
def get_request(request_id: str, rt: RuntimeDep, who: CallerDep) -> RequestOut:
    with unit_of_work(rt) as session:
        return RequestOut.of(service.get_request(session, rt, who, request_id))


@router.get("/requests/{request_id}/text")
def get_text(request_id: str, rt: RuntimeDep, who: CallerDep) -> dict[str, str]:
    """What the person wrote (sealed at rest), for them and the protection officer."""
    with unit_of_work(rt) as session:
        return service.personal_text(session, rt, who, request_id)


@router.post("/requests/{request_id}/verification", status_code=202)
def send_code(request_id: str, rt: RuntimeDep, who: CallerDep) -> dict[str, str]:
    """Text a one-time code to the person's verified phone; answers with the masked number."""
    with unit_of_work(rt) as session:
        return {"sent_to": verification.send_code(session, rt, who, request_id)}


@router.post("/requests/{request_id}/verification/confirm", response_model=RequestOut)
def confirm_code(request_id: str, body: CodeIn, rt: RuntimeDep, who: CallerDep) -> RequestOut:
    with unit_of_work(rt) as session:
        return RequestOut.of(verification.confirm_code(session, rt, who, request_id, body.code))


@router.post("/requests/{request_id}/assign", response_model=RequestOut)
def assign(request_id: str, body: AssignIn, rt: RuntimeDep, who: CallerDep) -> RequestOut:
    with unit_of_work(rt) as session:
        return RequestOut.of(service.assign(session, rt, who, request_id, body.owner_id))


@router.post("/requests/{request_id}/extend", response_model=RequestOut)
def extend(request_id: str, body: ExtendIn, rt: RuntimeDep, who: CallerDep) -> RequestOut:
    with unit_of_work(rt) as session:
        return RequestOut.of(service.extend(session, rt, who, request_id, working_days=body.working_days, reason=body.reason))


@router.post("/requests/{request_id}/refuse", response_model=RequestOut)
def refuse(request_id: str, body: RefuseIn, rt: RuntimeDep, who: CallerDep) -> RequestOut:
    with unit_of_work(rt) as session:
        return RequestOut.of(service.refuse(session, rt, who, request_id, reason=body.reason))


@router.post("/requests/{request_id}/fulfil", response_model=RequestOut)
def fulfil(request_id: str, body: FulfilIn, rt: RuntimeDep, who: CallerDep) -> RequestOut:
    with unit_of_work(rt) as session:
        return RequestOut.of(flows.fulfil(session, rt, who, request_id, outcome=body.outcome))


@router.get(
    "/requests/{request_id}/package",
    response_class=Response,
    responses={200: {"content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}}, "description": "The zip"}},
)
def download(request_id: str, rt: RuntimeDep, who: CallerDep) -> Response:
    """The access or portability package (zip) of a fulfilled request."""
    with unit_of_work(rt) as session:
        name, blob = flows.download_package(session, rt, who, request_id)
    return Response(
        blob, media_type="application/zip", headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}
    )


def _hold_out(row: HoldRow) -> HoldOut:
    return HoldOut(
        id=row.id, subject_id=row.subject_id, kind=row.kind, reason=row.reason, ends_on=row.ends_on, lifted=row.lifted_at is not None
    )


@router.post("/holds", status_code=201, response_model=HoldOut)
def place_hold(body: HoldIn, rt: RuntimeDep, who: CallerDep) -> HoldOut:
    """A legal hold (with the date the duty ends) or a restriction: storage only until then."""
    with unit_of_work(rt) as session:
        return _hold_out(holds.place(session, rt, who, body.subject_id, kind=body.kind, reason=body.reason, ends_on=body.ends_on))


@router.get("/holds", response_model=list[HoldOut])
def list_holds(rt: RuntimeDep, who: CallerDep, subject_id: Annotated[str, Query(min_length=1, max_length=36)]) -> list[HoldOut]:
    with unit_of_work(rt) as session:
        service.require_worker(rt, who)
        return [_hold_out(h) for h in holds.holds_of(session, subject_id)]


@router.post("/holds/{hold_id}/lift", response_model=HoldOut)
def lift_hold(hold_id: str, body: LiftIn, rt: RuntimeDep, who: CallerDep) -> HoldOut:
    with unit_of_work(rt) as session:
        return _hold_out(holds.lift(session, rt, who, hold_id, reason=body.reason))


@router.post("/decisions", status_code=201, response_model=DecisionOut)
def record_decision(body: DecisionIn, rt: RuntimeDep, who: CallerDep) -> DecisionOut:
    """The lender's systems record an automated decision about a person (PIPL Art. 24)."""
    with unit_of_work(rt) as session:
        view = decisions.record_decision(
            session,
            rt,
            who,
            body.subject_id,
            system=body.system,
            decision_type=body.decision_type,
            outcome=body.outcome,
            input_categories=body.input_categories,
            logic_summary=body.logic_summary,
            solely_automated=body.solely_automated,
            made_at=body.made_at,
        )
    return DecisionOut.of(view)


@router.get("/decisions", response_model=list[DecisionOut])
def list_decisions(rt: RuntimeDep, who: CallerDep, subject_id: Annotated[str | None, Query(max_length=36)] = None) -> list[DecisionOut]:
    with unit_of_work(rt) as session:
        return [DecisionOut.of(d) for d in decisions.decisions_for(session, rt, who, subject_id)]


@router.get("/decisions/{decision_id}", response_model=DecisionOut)
def explain(decision_id: str, rt: RuntimeDep, who: CallerDep) -> DecisionOut:
    """The explanation of one automated decision: categories used, outcome, logic, any review."""
    with unit_of_work(rt) as session:
        return DecisionOut.of(decisions.explanation(session, rt, who, decision_id))


@router.get("/alerts", response_model=list[AlertOut])
def list_alerts(rt: RuntimeDep, who: CallerDep, include_acknowledged: bool = False) -> list[AlertOut]:
    with unit_of_work(rt) as session:
        return [AlertOut.of(a) for a in alerts.list_alerts(session, rt, who, include_acknowledged=include_acknowledged)]


# An alert id is a database integer: a larger number is refused as bad input, never sent to the
# driver (SQLite's INTEGER and PostgreSQL's BIGINT stop at 2**63 - 1).
AlertId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertOut)
def acknowledge(alert_id: AlertId, rt: RuntimeDep, who: CallerDep) -> AlertOut:
    with unit_of_work(rt) as session:
        return AlertOut.of(alerts.acknowledge(session, rt, who, alert_id))


@router.get("/reports/on-time", response_model=OnTimeOut)
def on_time(rt: RuntimeDep, who: CallerDep, start: dt.date, end: dt.date) -> OnTimeOut:
    """How many requests filed in [start, end] were answered by their deadline."""
    if end < start:
        raise InvalidInput("end: must not be before start", path="end")
    with unit_of_work(rt) as session:
        if not who.roles & (service.rules(rt).read_roles | service.rules(rt).work_roles):
            raise RightsForbidden("this role may not read the rights reports")
        rate = service.on_time_rate(session, rt, start, end)
    return OnTimeOut(
        start=start, end=end, answered=rate.answered, on_time=rate.on_time, late=rate.late, open_overdue=rate.open_overdue, rate=rate.rate
    )


@router.post("/retention/sweep", response_model=SweepOut)
def sweep(rt: RuntimeDep, who: CallerDep, dry_run: bool = True) -> SweepOut:
    """Run (or, by default, only plan) the retention sweep as the protection officer."""
    with unit_of_work(rt) as session:
        service.require_worker(rt, who)
        report = retention.sweep(session, rt, dry_run=dry_run, who=who)
    return SweepOut(
        dry_run=report.dry_run,
        actions=[SweepActionOut(kind=a.kind, target=a.target, reason=a.reason) for a in report.actions],
        codes_removed=report.codes_removed,
    )
