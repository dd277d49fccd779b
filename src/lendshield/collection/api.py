"""HTTP routes of the collection guard."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request
from sqlalchemy import select

from lendshield.collection import complaints, recordings, service, verification
from lendshield.collection.models import ContactRow
from lendshield.collection.rules import describe
from lendshield.collection.schemas import (
    AssignedLoanOut,
    ComplaintIn,
    ComplaintOut,
    ContactIn,
    ContactOut,
    HitOut,
    OutcomeIn,
    PreferenceIn,
    PreferenceOut,
    RecordingOut,
    RecordOut,
    ResolveIn,
    ScreenIn,
    ScreenOut,
    TargetOut,
    VerifyIn,
    VerifyOut,
    VisitIn,
)
from lendshield.errors import Forbidden, InvalidInput
from lendshield.loans.models import LoanRow
from lendshield.subjects import service as subjects
from lendshield.web.deps import PrincipalDep, RuntimeDep, unit_of_work

router = APIRouter(prefix="/v1/collection", tags=["collection"])
Id36 = Annotated[str, Path(min_length=1, max_length=36)]
LoanId = Annotated[str, Path(min_length=1, max_length=64)]
STAFF_VIEW = frozenset({"collector", "collection_supervisor", "protection_officer", "auditor", "customer_service"})


def _contact_out(result: service.ContactResult) -> ContactOut:
    return ContactOut(
        id=result.id,
        outcome=result.outcome,
        masked_to=result.masked_to,
        verification_code=result.verification_code,
        text_sha256=result.text_sha256,
        ledger_seq=result.ledger_seq,
    )


def _record_out(row: ContactRow) -> RecordOut:
    return RecordOut(
        id=row.id,
        loan_id=row.loan_id,
        channel=row.channel,
        target_role=row.target_role,
        outcome=row.outcome,
        rule_id=row.rule_id,
        reason=row.reason,
        next_allowed_at=row.next_allowed_at,
        collector_id=row.collector_id,
        participants=list(row.participants),
        duration_s=row.duration_s,
        text_sha256=row.text_sha256,
        ledger_seq=row.ledger_seq,
        created_at=row.created_at,
    )


@router.get("/rules", summary="The contact rules in force (jurisdiction preset)")
def get_rules(rt: RuntimeDep, who: PrincipalDep) -> dict[str, Any]:
    if not who.roles & STAFF_VIEW:
        raise Forbidden("not allowed to read collection rules")
    return describe(service.rules(rt), rt.settings.collection_preset)


@router.get("/loans", response_model=list[AssignedLoanOut], summary="The overdue loans assigned to the calling collector")
def get_my_loans(rt: RuntimeDep, who: PrincipalDep) -> list[AssignedLoanOut]:
    if "collector" not in who.roles:
        raise Forbidden("only collectors have assigned loans")
    with unit_of_work(rt) as session:
        rows = session.scalars(
            select(LoanRow)
            .where(LoanRow.assigned_collector_id == who.id, LoanRow.status == "overdue")
            .order_by(LoanRow.overdue_days.desc())
        ).all()
        return [AssignedLoanOut(id=r.id, overdue_days=r.overdue_days) for r in rows]


@router.get("/loans/{loan_id}/targets", response_model=list[TargetOut], summary="Who may be contacted about a loan (masked)")
def get_targets(rt: RuntimeDep, who: PrincipalDep, loan_id: LoanId) -> list[TargetOut]:
    with unit_of_work(rt) as session:
        loan = service.loan_for_contact(session, who, loan_id)
        if loan.assigned_collector_id != who.id:
            raise Forbidden("this loan is not assigned to you")
        out = []
        for t in service.targets(session, rt, loan, who=who):
            # The collector sees the number masked, through the gate (and the read is logged).
            view = subjects.read_fields(session, rt, who, t.id, ["mobile"], purpose="collection", reason=None, via="collection_targets")
            field = view.fields.get("mobile")
            out.append(TargetOut(id=t.id, role=t.role, relation=t.relation, masked_mobile=field.value if field else None))
        return out


@router.post("/contacts", status_code=201, response_model=ContactOut, summary="Call or message through the masked-number bridge")
def post_contact(body: ContactIn, rt: RuntimeDep, who: PrincipalDep) -> ContactOut:
    with unit_of_work(rt) as session:
        result = service.start_contact(session, rt, who, body.loan_id, channel=body.channel, target_id=body.target_id, text=body.text)
        return _contact_out(result)


@router.post("/visits", status_code=201, response_model=ContactOut, summary="Record a field visit (at least two collectors)")
def post_visit(body: VisitIn, rt: RuntimeDep, who: PrincipalDep) -> ContactOut:
    with unit_of_work(rt) as session:
        return _contact_out(service.record_visit(session, rt, who, body.loan_id, participants=body.participants, notes=body.notes))


@router.post("/screen", response_model=ScreenOut, summary="Screen a message or template before sending")
def post_screen(body: ScreenIn, rt: RuntimeDep, who: PrincipalDep) -> ScreenOut:
    if not who.roles & STAFF_VIEW:
        raise Forbidden("not allowed to screen collection messages")
    hits = service.screen(rt, body.text, body.audience)
    return ScreenOut(
        allowed=not hits, hits=[HitOut(rule_id=h.rule_id, category=h.category, start=h.start, end=h.end, text=h.text) for h in hits]
    )


@router.get("/contacts", response_model=list[RecordOut], summary="Contact records of a loan (allowed and blocked)")
def list_contacts(rt: RuntimeDep, who: PrincipalDep, loan_id: Annotated[str, Query(min_length=1, max_length=64)]) -> list[RecordOut]:
    with unit_of_work(rt) as session:
        loan = session.get(LoanRow, loan_id)
        assigned = loan is not None and loan.assigned_collector_id == who.id and "collector" in who.roles
        if not (assigned or who.roles & service.OVERSIGHT_ROLES):
            raise Forbidden("only the assigned collector and oversight roles read a loan's contact records")
        rows = session.scalars(select(ContactRow).where(ContactRow.loan_id == loan_id).order_by(ContactRow.created_at)).all()
        return [_record_out(r) for r in rows]


@router.get("/contacts/{contact_id}", response_model=RecordOut, summary="One contact record")
def get_contact(rt: RuntimeDep, who: PrincipalDep, contact_id: Id36) -> RecordOut:
    with unit_of_work(rt) as session:
        row = service.get_contact(session, contact_id)
        if not service.may_see(who, row):
            raise Forbidden("not allowed to read this contact record")
        return _record_out(row)


@router.post("/contacts/{contact_id}/refusal", status_code=204, summary="A third party refused further contact")
def post_refusal(rt: RuntimeDep, who: PrincipalDep, contact_id: Id36) -> None:
    with unit_of_work(rt) as session:
        service.record_refusal(session, rt, who, contact_id)


@router.post(
    "/contacts/{contact_id}/recordings",
    status_code=201,
    response_model=RecordingOut,
    summary="Upload a call recording or visit media (raw body; Content-Type audio/*, video/* or image/*)",
)
async def post_recording(request: Request, rt: RuntimeDep, who: PrincipalDep, contact_id: Id36) -> RecordingOut:
    data = await request.body()
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    with unit_of_work(rt) as session:
        row = recordings.upload(session, rt, who, contact_id, data, media_type)
        return RecordingOut(
            id=row.id, contact_id=row.contact_id, sha256=row.sha256, size=row.size, ledger_seq=row.ledger_seq, retain_until=row.retain_until
        )


@router.post("/callbacks", status_code=204, summary="The telephony adapter reports how a call ended (signed)")
async def post_callback(
    request: Request,
    rt: RuntimeDep,
    who: PrincipalDep,
    x_lendshield_timestamp: Annotated[str, Header(max_length=20)] = "",
    x_lendshield_signature: Annotated[str, Header(max_length=128)] = "",
) -> None:
    raw = await request.body()
    recordings.verify_callback(rt, x_lendshield_timestamp, x_lendshield_signature, raw)
    try:
        body = OutcomeIn.model_validate_json(raw)
    except ValueError as exc:
        raise InvalidInput("the callback body is not a valid outcome") from exc
    with unit_of_work(rt) as session:
        recordings.record_outcome(session, rt, who, body.contact_id, body.outcome, body.duration_s)


@router.post("/verify", response_model=VerifyOut, summary="Did this call or message really come from the lender?")
def post_verify(body: VerifyIn, rt: RuntimeDep, who: PrincipalDep) -> VerifyOut:
    with unit_of_work(rt) as session:
        found = verification.check(session, rt, who, body.code)
        return VerifyOut(genuine=found.genuine, channel=found.channel, at=found.at, collector=found.collector)


def _complaint_out(view: complaints.ComplaintView) -> ComplaintOut:
    return ComplaintOut(
        id=view.id,
        kind=view.kind,
        loan_id=view.loan_id,
        contact_id=view.contact_id,
        status=view.status,
        text=view.text,
        outcome=view.outcome,
        opened_at=view.opened_at,
        resolved_at=view.resolved_at,
    )


@router.post("/complaints", status_code=201, response_model=ComplaintOut, summary="Complain about a contact or dispute the debt")
def post_complaint(body: ComplaintIn, rt: RuntimeDep, who: PrincipalDep) -> ComplaintOut:
    with unit_of_work(rt) as session:
        view = complaints.file(session, rt, who, loan_id=body.loan_id, kind=body.kind, text=body.text, contact_id=body.contact_id)
        return _complaint_out(view)


@router.get("/complaints", response_model=list[ComplaintOut], summary="Open complaints and disputes")
def list_complaints(rt: RuntimeDep, who: PrincipalDep) -> list[ComplaintOut]:
    with unit_of_work(rt) as session:
        return [_complaint_out(v) for v in complaints.list_open(session, rt, who)]


@router.get("/complaints/{complaint_id}", response_model=ComplaintOut, summary="One complaint")
def get_complaint(rt: RuntimeDep, who: PrincipalDep, complaint_id: Id36) -> ComplaintOut:
    with unit_of_work(rt) as session:
        return _complaint_out(complaints.get(session, rt, who, complaint_id))


@router.post("/complaints/{complaint_id}/resolve", response_model=ComplaintOut, summary="Resolve with a written outcome")
def post_resolve(body: ResolveIn, rt: RuntimeDep, who: PrincipalDep, complaint_id: Id36) -> ComplaintOut:
    with unit_of_work(rt) as session:
        return _complaint_out(complaints.resolve(session, rt, who, complaint_id, outcome=body.outcome))


@router.put("/preferences/{borrower_id}", response_model=PreferenceOut, summary="The channels collection may use")
def put_preferences(body: PreferenceIn, rt: RuntimeDep, who: PrincipalDep, borrower_id: Id36) -> PreferenceOut:
    with unit_of_work(rt) as session:
        return PreferenceOut(channels=service.set_preference(session, rt, who, borrower_id, list(body.channels)))
