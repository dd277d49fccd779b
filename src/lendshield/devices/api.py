"""Devices over HTTP: staff endpoints (enrol, request, review) and device endpoints (check-in, ack).

Device endpoints carry no bearer token: the device proves itself by signing with its own key,
generated on the device at enrolment.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from lendshield.consent.models import NoticeRow
from lendshield.consent.service import render
from lendshield.crypto.jws import JwsInvalid, verify_compact
from lendshield.devices import notice, service, views
from lendshield.devices.models import CommandRequestRow, DeviceRow
from lendshield.errors import Forbidden, InvalidInput
from lendshield.ledger.tree import log_public_key
from lendshield.web.deps import PrincipalDep, PurposeDep, RuntimeDep, unit_of_work

router = APIRouter(prefix="/v1/devices", tags=["devices"])
DeviceId = Annotated[str, Path(min_length=36, max_length=36)]
CHECKIN_TYP = "lendshield-device-checkin"
CHECKIN_MAX_AGE_S = 300
Jws = Annotated[str, Field(min_length=10, max_length=16_384)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EnrolIn(Strict):
    loan_id: Annotated[str, Field(min_length=1, max_length=64)]
    public_key: Annotated[str, Field(min_length=43, max_length=64, description="base64url Ed25519 public key")]
    imei: Annotated[str, Field(min_length=1, max_length=32, description="The phone's IMEI (15 digits, Luhn); stored only in the vault.")]
    notice_version: Annotated[
        str | None, Field(default=None, min_length=1, max_length=32, description="The device notice shown; must be the current one.")
    ] = None


class DeviceOut(BaseModel):
    device_id: str
    loan_id: str
    state: str
    last_seq: int
    notice_version: str
    enrolled_at: datetime
    imei: str | None = Field(description="Masked; null when the gate refused it or the borrower's field holds a later phone's IMEI.")
    imei_rule: str


class LookupIn(Strict):
    imei: Annotated[str, Field(min_length=1, max_length=32)]


class LookupOut(BaseModel):
    device_ids: list[str]


class NoticeOut(BaseModel):
    version: str
    published: bool
    text_zh: str
    text_en: str


class EnrolOut(BaseModel):
    device_id: str
    command_kid: str
    command_key: str
    ledger_origin: str
    ledger_key: str


class RequestIn(Strict):
    command: Literal["lock", "restrict"]
    reason_code: Annotated[str, Field(max_length=32)]
    reason_text: Annotated[str, Field(min_length=10, max_length=1000)]


class ReviewIn(Strict):
    approve: bool
    reason: Annotated[str, Field(min_length=1, max_length=1000)]


class RemindIn(Strict):
    message_zh: Annotated[str, Field(min_length=1, max_length=500)]
    final: bool = False


class SignedIn(Strict):
    token: Jws


class RequestOut(BaseModel):
    id: str
    device_id: str
    command: str
    reason_code: str
    reason_text: str
    status: str


def _rules() -> service.DeviceRules:
    return service.DeviceRules()


def _b64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput("public_key: not base64url") from exc


@router.get("/notice", response_model=NoticeOut)
def device_notice(rt: RuntimeDep, who: PrincipalDep) -> NoticeOut:
    """The current device notice, exactly as the borrower is shown it and consents to."""
    draft = notice.draft(rt, _rules())
    with unit_of_work(rt) as session:
        published = session.get(NoticeRow, draft.version) is not None
    return NoticeOut(
        version=draft.version,
        published=published,
        text_zh=render(draft.sections, draft.purpose_fields, 0),
        text_en=render(draft.sections, draft.purpose_fields, 1),
    )


@router.post("/notice", status_code=201, response_model=NoticeOut)
def publish_device_notice(rt: RuntimeDep, who: PrincipalDep) -> NoticeOut:
    """Publish the current device notice (protection officer); publishing it again changes nothing."""
    with unit_of_work(rt) as session:
        row = notice.ensure_published(session, rt, who, _rules())
        return NoticeOut(version=row.version, published=True, text_zh=row.text_zh, text_en=row.text_en)


@router.post("/lookup", response_model=LookupOut)
def lookup(body: LookupIn, rt: RuntimeDep, who: PrincipalDep, purpose: PurposeDep) -> LookupOut:
    """Find devices by IMEI through the vault's blind index (POST: the IMEI never in a URL)."""
    with unit_of_work(rt) as session:
        return LookupOut(device_ids=views.find_by_imei(session, rt, who, body.imei, purpose=purpose))


@router.post("", status_code=201, response_model=EnrolOut)
def enrol(body: EnrolIn, rt: RuntimeDep, who: PrincipalDep) -> EnrolOut:
    """Enrol a phone, only with the borrower's live consent to the current device notice."""
    with unit_of_work(rt) as session:
        device_id = service.enroll(
            session,
            rt,
            who,
            loan_id=body.loan_id,
            device_public_key=_b64(body.public_key),
            imei=body.imei,
            notice_version=body.notice_version,
            rules=_rules(),
        )
    kid, raw = service.command_key(rt)
    return EnrolOut(
        device_id=device_id,
        command_kid=kid,
        command_key=base64.urlsafe_b64encode(raw).rstrip(b"=").decode(),
        ledger_origin=rt.settings.ledger_origin,
        ledger_key=log_public_key(rt),
    )


@router.get("/{device_id}", response_model=DeviceOut)
def get_device(device_id: DeviceId, rt: RuntimeDep, who: PrincipalDep, purpose: PurposeDep) -> DeviceOut:
    """A device as staff see it: its state and its IMEI, masked, through the gate for the named purpose."""
    with unit_of_work(rt) as session:
        view = views.device_view(session, rt, who, device_id, purpose=purpose)
    return DeviceOut.model_validate(view, from_attributes=True)


@router.post("/{device_id}/requests", status_code=201)
def request_lock(device_id: DeviceId, body: RequestIn, rt: RuntimeDep, who: PrincipalDep) -> dict[str, str]:
    with unit_of_work(rt) as session:
        rid = service.request_command(
            session, rt, who, device_id, command=body.command, reason_code=body.reason_code, reason_text=body.reason_text, rules=_rules()
        )
    return {"id": rid}


@router.post("/{device_id}/reminders", status_code=201)
def remind(device_id: DeviceId, body: RemindIn, rt: RuntimeDep, who: PrincipalDep) -> dict[str, int]:
    with unit_of_work(rt) as session:
        row = service.remind(session, rt, who, device_id, message_zh=body.message_zh, final=body.final, rules=_rules())
        return {"seq": row.seq}


@router.get("/requests/pending", response_model=list[RequestOut])
def pending(rt: RuntimeDep, who: PrincipalDep) -> list[RequestOut]:
    """The approval queue, for the roles that approve."""
    if not who.roles & set(_rules().approver_roles):
        raise Forbidden("the approval queue is for approvers")
    with unit_of_work(rt) as session:
        rows = session.scalars(
            select(CommandRequestRow).where(CommandRequestRow.status == "pending").order_by(CommandRequestRow.requested_at)
        )
        return [
            RequestOut(
                id=r.id, device_id=r.device_id, command=r.command, reason_code=r.reason_code, reason_text=r.reason_text, status=r.status
            )
            for r in rows
        ]


@router.post("/requests/{request_id}/review")
def review(request_id: Annotated[str, Path(max_length=36)], body: ReviewIn, rt: RuntimeDep, who: PrincipalDep) -> dict[str, str]:
    with unit_of_work(rt) as session:
        status = service.review(session, rt, who, request_id, approve=body.approve, reason=body.reason, rules=_rules())
    return {"status": status}


@router.post("/{device_id}/checkin")
def checkin(device_id: DeviceId, body: SignedIn, rt: RuntimeDep) -> dict[str, object]:
    """The device asks for commands after the last one it applied, signing the request with its key."""
    with unit_of_work(rt) as session:
        device = session.get(DeviceRow, device_id)
        if device is None:
            raise Forbidden("check-in refused: unknown device")
        try:
            _, claims = verify_compact(body.token, {f"dev-{device.id}": device.public_key}, CHECKIN_TYP)
        except JwsInvalid as exc:
            raise Forbidden(f"check-in refused: {exc.detail}") from exc
        now = int(rt.clock.now().timestamp())
        iat = claims.get("iat")
        if claims.get("dev") != device.id or not isinstance(iat, int) or abs(now - iat) > CHECKIN_MAX_AGE_S:
            raise Forbidden("check-in refused: stale or for another device")
        after = claims.get("last_seq", 0)
        if not isinstance(after, int) or after < 0:
            raise InvalidInput("last_seq: a non-negative integer")
        commands, waiting = service.deliverable(session, rt, device.id, after)
    return {"commands": commands, "waiting_for_log": waiting}


@router.post("/{device_id}/acks", status_code=204)
def ack(device_id: DeviceId, body: SignedIn, rt: RuntimeDep) -> None:
    with unit_of_work(rt) as session:
        service.acknowledge(session, rt, device_id, body.token)
