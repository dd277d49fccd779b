"""What staff see of a financed device, and finding a device by its IMEI.

The IMEI lives only in the vault (the borrower's ``device_imei`` field, encrypted, with its blind
index); it reaches these views through the gate (``subjects.service.read_fields`` / ``find_by``),
masked, for the purpose the caller names, and every read or lookup is in the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from lendshield.devices.errors import DeviceNotFound
from lendshield.devices.models import DeviceRow
from lendshield.errors import Forbidden
from lendshield.principals import Principal
from lendshield.runtime import Runtime
from lendshield.subjects import service as subjects
from lendshield.subjects.errors import ReadDenied

IMEI_FIELD = "device_imei"
VIEW_ROLES = frozenset({"device_operator", "collection_supervisor", "risk_officer"})
LOOKUP_ROLES = frozenset({"device_operator", "risk_officer"})


@dataclass(frozen=True, slots=True)
class DeviceView:
    device_id: str
    loan_id: str
    state: str
    last_seq: int
    notice_version: str
    enrolled_at: datetime
    imei: str | None
    """Masked (``**** 7518``); None when the gate refused it or the field now holds another phone's IMEI."""
    imei_rule: str


def _imei(session: Session, rt: Runtime, who: Principal, device: DeviceRow, purpose: str | None) -> tuple[str | None, str, int | None]:
    """(masked IMEI or None, the deciding rule, the field's current version)."""
    try:
        view = subjects.read_fields(session, rt, who, device.borrower_id, [IMEI_FIELD], purpose=purpose, reason=None, clear=False)
    except ReadDenied as exc:
        # The refusal's ledger entry is already written; the unit of work keeps it.
        return None, ",".join(exc.extra.get("rules", [])) or "denied", None
    held = view.fields.get(IMEI_FIELD)
    if held is None:
        return None, "not-held", None
    return held.value, held.rule_id, held.version


def device_view(session: Session, rt: Runtime, who: Principal, device_id: str, *, purpose: str | None) -> DeviceView:
    if not who.roles & VIEW_ROLES:
        raise Forbidden("this role may not view financed devices")
    device = session.get(DeviceRow, device_id) if len(device_id) <= 36 else None
    if device is None:
        raise DeviceNotFound()
    masked, rule, version = _imei(session, rt, who, device, purpose)
    if version is not None and version != device.imei_version:
        masked, rule = None, "imei-of-another-device"  # the borrower's field now holds a later phone's IMEI
    return DeviceView(
        device_id=device.id,
        loan_id=device.loan_id,
        state=device.state,
        last_seq=device.last_seq,
        notice_version=device.notice_version,
        enrolled_at=device.enrolled_at,
        imei=masked,
        imei_rule=rule,
    )


def find_by_imei(session: Session, rt: Runtime, who: Principal, imei: str, *, purpose: str | None) -> list[str]:
    """Devices whose IMEI this is: the blind index finds the borrower, the field's version the phone."""
    if not who.roles & LOOKUP_ROLES:
        raise Forbidden("this role may not look devices up")
    found: list[str] = []
    for subject_id in subjects.find_by(session, rt, who, IMEI_FIELD, imei, purpose=purpose):
        version = _current_version(session, rt, who, subject_id, purpose)
        found += session.scalars(
            select(DeviceRow.id).where(DeviceRow.borrower_id == subject_id, DeviceRow.imei_version == version).order_by(DeviceRow.id)
        )
    return found


def _current_version(session: Session, rt: Runtime, who: Principal, subject_id: str, purpose: str | None) -> int | None:
    # A masked read through the gate (logged): only the field's version is used.
    view = subjects.read_fields(session, rt, who, subject_id, [IMEI_FIELD], purpose=purpose, reason=None, clear=False)
    held = view.fields.get(IMEI_FIELD)
    return None if held is None else held.version
