"""HTTP routes of the transfers domain: the recipient registry, provisions, exports, tracing."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Path, Query, UploadFile
from fastapi.responses import Response
from pydantic import AwareDatetime

from lendshield.errors import PayloadTooLarge
from lendshield.transfers import config, formats, recipients, service, trace
from lendshield.transfers.schemas import ExportIn, ExportOut, GateAnswerOut, ProvisionIn, ReceiptOut, RecipientIn, RecipientOut, TraceOut
from lendshield.transfers.service import ExportFile
from lendshield.web.deps import PrincipalDep, RuntimeDep, unit_of_work

router = APIRouter(prefix="/v1/transfers", tags=["transfers"])
Id = Annotated[str, Path(min_length=1, max_length=36)]
_BINARY = {"schema": {"type": "string", "format": "binary"}}
FILE_RESPONSE: dict[int | str, dict[str, Any]] = {
    201: {
        "description": "The fingerprinted file (CSV, JSON Lines or XLSX, as asked).",
        "content": {media.split(";")[0]: _BINARY for media, _ext in formats.FORMATS.values()},
        "headers": {
            "X-LendShield-Export-Id": {"description": "The export's id (for its record and for tracing).", "schema": {"type": "string"}},
            "X-LendShield-People": {"description": "How many people the file holds (canaries aside).", "schema": {"type": "string"}},
            "Content-Disposition": {"description": "attachment; filename=...", "schema": {"type": "string"}},
        },
    }
}


def _home(rt: RuntimeDep) -> str:
    return config.load(rt.settings.policies_dir).home_region


def _file(out: ExportFile) -> Response:
    # The file is the answer: nothing of it is stored; its fingerprint and metadata are.
    return Response(
        status_code=201,
        content=out.content,
        media_type=out.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{out.filename}"',
            "X-LendShield-Export-Id": out.export_id,
            "X-LendShield-People": str(out.people),
            "Cache-Control": "no-store",
        },
    )


@router.post("/recipients", status_code=201, response_model=RecipientOut)
def create_recipient(body: RecipientIn, rt: RuntimeDep, who: PrincipalDep) -> RecipientOut:
    with unit_of_work(rt) as session:
        row = recipients.create(session, rt, who, body.draft())
        return RecipientOut.of(row, _home(rt))


@router.get("/recipients", response_model=list[RecipientOut])
def list_recipients(rt: RuntimeDep, who: PrincipalDep, include_retired: bool = Query(False)) -> list[RecipientOut]:
    with unit_of_work(rt) as session:
        return [RecipientOut.of(r, _home(rt)) for r in recipients.list_all(session, rt, who, include_retired=include_retired)]


@router.get("/recipients/{recipient_id}", response_model=RecipientOut)
def get_recipient(recipient_id: Id, rt: RuntimeDep, who: PrincipalDep) -> RecipientOut:
    with unit_of_work(rt) as session:
        return RecipientOut.of(recipients.get(session, rt, who, recipient_id), _home(rt))


@router.put("/recipients/{recipient_id}", response_model=RecipientOut)
def replace_recipient(recipient_id: Id, body: RecipientIn, rt: RuntimeDep, who: PrincipalDep) -> RecipientOut:
    with unit_of_work(rt) as session:
        return RecipientOut.of(recipients.replace(session, rt, who, recipient_id, body.draft()), _home(rt))


@router.delete("/recipients/{recipient_id}", response_model=RecipientOut)
def retire_recipient(recipient_id: Id, rt: RuntimeDep, who: PrincipalDep) -> RecipientOut:
    with unit_of_work(rt) as session:
        return RecipientOut.of(recipients.retire(session, rt, who, recipient_id), _home(rt))


@router.post("/provisions", status_code=201, response_class=Response, responses=FILE_RESPONSE)
def provide(body: ProvisionIn, rt: RuntimeDep, who: PrincipalDep) -> Response:
    with unit_of_work(rt) as session:
        out = service.provide(session, rt, who, body.recipient_id, body.request())
    return _file(out)


@router.post("/provisions/check", response_model=GateAnswerOut)
def check_provision(body: ProvisionIn, rt: RuntimeDep, who: PrincipalDep) -> GateAnswerOut:
    """What the gate would answer now; nothing is read, sent or counted."""
    with unit_of_work(rt) as session:
        return GateAnswerOut.of(service.check_provision(session, rt, who, body.recipient_id, body.request()))


@router.post("/exports", status_code=201, response_class=Response, responses=FILE_RESPONSE)
def export(body: ExportIn, rt: RuntimeDep, who: PrincipalDep) -> Response:
    with unit_of_work(rt) as session:
        out = service.export(session, rt, who, body.request())
    return _file(out)


@router.get("/exports", response_model=list[ExportOut])
def list_exports(
    rt: RuntimeDep,
    who: PrincipalDep,
    kind: Annotated[Literal["export", "provision"] | None, Query()] = None,
    before: Annotated[AwareDatetime | None, Query(description="only those made before this time, with its offset (page backwards)")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[ExportOut]:
    with unit_of_work(rt) as session:
        return [ExportOut.of(r) for r in service.list_exports(session, rt, who, kind=kind, before=before, limit=limit)]


@router.get("/exports/{export_id}", response_model=ExportOut)
def get_export(export_id: Id, rt: RuntimeDep, who: PrincipalDep) -> ExportOut:
    with unit_of_work(rt) as session:
        return ExportOut.of(service.get_export(session, rt, who, export_id))


@router.get("/recipients-of/{subject_id}", response_model=list[ReceiptOut])
def recipients_of(subject_id: Id, rt: RuntimeDep, who: PrincipalDep) -> list[ReceiptOut]:
    with unit_of_work(rt) as session:
        return [ReceiptOut.of(r) for r in service.list_recipients_of(session, rt, who, subject_id)]


@router.post("/trace", response_model=TraceOut)
def trace_file(rt: RuntimeDep, who: PrincipalDep, file: Annotated[UploadFile, File(description="the leaked file")]) -> TraceOut:
    limit = rt.settings.max_body_bytes
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"uploads are limited to {limit} bytes; use `lendshield trace FILE` for larger files")
    with unit_of_work(rt) as session:
        return TraceOut.of(trace.trace(session, rt, who, data, file.filename or ""))
