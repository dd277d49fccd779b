"""The vault over HTTP. Every read names a purpose (X-Purpose); clear text needs a reason."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Response

from lendshield.policy import Effect
from lendshield.subjects import schemas, service
from lendshield.web.deps import OneHopRoute, PrincipalDep, PurposeDep, RuntimeDep, unit_of_work

# OneHopRoute: the masked read (no body) runs token, purpose, gate and commit in one transaction,
# on the event loop or in one hop to a thread; the other routes fall back to FastAPI's own handler.
router = APIRouter(prefix="/v1/subjects", tags=["subjects"], route_class=OneHopRoute)
SubjectId = Annotated[str, Path(min_length=1, max_length=36, pattern=r"^[0-9a-f-]{36}$")]
_SHOWN = (Effect.CLEAR, Effect.MASK)


def _json(content: Any, status_code: int = 200) -> Response:
    """A response of pre-serialised JSON: the shape is the route's declared model (schemas.py),
    built here from plain values, so FastAPI neither validates it again nor serialises it twice."""
    return Response(orjson.dumps(content), status_code=status_code, media_type="application/json")


def _view_json(view: service.SubjectView) -> Response:
    """``schemas.SubjectOut`` as JSON."""
    fields: dict[str, dict[str, Any]] = {}
    for n, f in view.fields.items():
        if f.effect not in _SHOWN:  # SubjectOut.fields[].shown is "clear" or "mask"; a denial is never shown
            raise ValueError("a denied field among the shown ones")
        fields[n] = {"value": f.value, "shown": f.effect.value, "rule_id": f.rule_id, "version": f.version}
    denied = {n: {"rule_id": d.rule_id, "reason": d.reason} for n, d in view.denied.items()}
    return _json({"id": view.subject_id, "kind": view.kind, "fields": fields, "denied": denied, "ledger_seq": view.ledger_seq})


@router.post("", status_code=201, response_model=schemas.SubjectCreated)
def create_subject(body: schemas.SubjectIn, rt: RuntimeDep, who: PrincipalDep) -> Response:
    with unit_of_work(rt) as session:
        sid, contacts = service.create_subject(
            session,
            rt,
            who,
            kind=body.kind,
            fields=body.fields,
            timezone=body.timezone,
            contacts=[service.NewContact(relation=c.relation, fields=c.fields) for c in body.contacts],
        )
    return _json({"id": sid, "contact_ids": list(contacts)}, status_code=201)  # schemas.SubjectCreated


@router.get("/{subject_id}", response_model=schemas.SubjectOut)
def get_subject(
    subject_id: SubjectId,
    rt: RuntimeDep,
    who: PrincipalDep,
    purpose: PurposeDep,
    fields: Annotated[list[str] | None, Query(max_length=64)] = None,
) -> Response:
    """Masked read (clear text needs POST .../read with a reason)."""
    with unit_of_work(rt) as session:
        view = service.read_fields(session, rt, who, subject_id, fields, purpose=purpose, reason=None, clear=False)
    return _view_json(view)


@router.post("/{subject_id}/read", response_model=schemas.SubjectOut)
def read_subject(subject_id: SubjectId, body: schemas.ReadIn, rt: RuntimeDep, who: PrincipalDep, purpose: PurposeDep) -> Response:
    with unit_of_work(rt) as session:
        view = service.read_fields(session, rt, who, subject_id, body.fields, purpose=purpose, reason=body.reason, clear=body.clear)
    return _view_json(view)


@router.put("/{subject_id}/fields/{field}", response_model=schemas.CorrectionOut)
def correct_field(
    subject_id: SubjectId,
    field: Annotated[str, Path(max_length=64)],
    body: schemas.CorrectionIn,
    rt: RuntimeDep,
    who: PrincipalDep,
) -> schemas.CorrectionOut:
    with unit_of_work(rt) as session:
        version = service.correct_field(session, rt, who, subject_id, field, body.value, reason=body.reason)
    return schemas.CorrectionOut(field=field, version=version)


@router.post("/lookup", response_model=schemas.LookupOut)
def lookup(body: schemas.LookupIn, rt: RuntimeDep, who: PrincipalDep, purpose: PurposeDep) -> schemas.LookupOut:
    """Find subjects by resident ID, phone or IMEI through the blind index (POST: values never in URLs)."""
    with unit_of_work(rt) as session:
        ids = service.find_by(session, rt, who, body.field, body.value, purpose=purpose)
    return schemas.LookupOut(subject_ids=ids)


@router.post("/{subject_id}/tokens", response_model=schemas.TokenOut, status_code=201)
def tokenize(subject_id: SubjectId, body: schemas.TokenizeIn, rt: RuntimeDep, who: PrincipalDep, purpose: PurposeDep) -> schemas.TokenOut:
    with unit_of_work(rt) as session:
        token = service.tokenize(session, rt, who, subject_id, body.field, purpose=purpose)
    return schemas.TokenOut(token=token)


@router.post("/detokenize", response_model=schemas.DetokenizedOut)
def detokenize(body: schemas.DetokenizeIn, rt: RuntimeDep, who: PrincipalDep, purpose: PurposeDep) -> schemas.DetokenizedOut:
    with unit_of_work(rt) as session:
        sid, name, view = service.detokenize(session, rt, who, body.token, purpose=purpose, reason=body.reason, clear=body.clear)
    return schemas.DetokenizedOut(
        subject_id=sid,
        field=name,
        value=schemas.FieldOut(value=view.value, shown=view.effect.value, rule_id=view.rule_id, version=view.version),  # type: ignore[arg-type]
    )


@router.post("/{subject_id}/shred", status_code=204)
def shred(subject_id: SubjectId, body: schemas.ShredIn, rt: RuntimeDep, who: PrincipalDep) -> None:
    with unit_of_work(rt) as session:
        service.shred(session, rt, who, subject_id, reason=body.reason)
