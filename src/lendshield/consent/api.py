"""HTTP routes of the consent domain: notices, and the consent ledger for staff and for borrowers.

The borrower-facing routes (/v1/portal/...) are what the borrower portal will call. Borrower
accounts do not exist yet, so for now they are authenticated as staff acting on the borrower's
behalf (the record's channel says which way the person answered).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from lendshield.consent import service
from lendshield.consent.errors import UnknownNotice, UnknownPurpose
from lendshield.web.deps import PrincipalDep, RuntimeDep, unit_of_work

router = APIRouter(tags=["consent"])
SubjectId = Annotated[str, Path(min_length=36, max_length=36, pattern=r"^[0-9a-f-]{36}$")]
Version = Annotated[str, Path(min_length=1, max_length=32)]
Kind = Literal["purpose", "third_party", "public_disclosure", "sensitive", "cross_border"]


class SectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    zh: str = Field(default="", max_length=4000)
    en: str = Field(default="", max_length=4000)


class NoticeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: str = Field(min_length=1, max_length=32)
    sections: dict[str, SectionIn] = Field(max_length=16)
    purpose_fields: dict[str, list[str]] = Field(max_length=64)


class NoticeOut(BaseModel):
    version: str
    sha256: str
    text_zh: str
    text_en: str
    purpose_fields: dict[str, list[str]]
    published_at: datetime
    scope: str = Field(description="general: the service's privacy notice; device: the device notice of financed phones")


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    purpose: str = Field(min_length=1, max_length=64)
    kind: Kind = "purpose"
    action: Literal["grant", "refuse", "withdraw", "prompt"]
    notice_version: str | None = Field(default=None, max_length=32)
    channel: Literal["app", "web", "paper", "phone", "branch", "staff"] = "staff"
    by_guardian: bool = False
    evidence: str = Field(default="", max_length=4000, description="Opaque proof (click record, signature ref); only its hash is kept.")


class ConsentOut(BaseModel):
    purpose: str
    kind: str
    action: str
    notice_version: str
    channel: str
    by_guardian: bool
    recorded_at: datetime
    evidence_sha256: str
    record_id: int


class PortalConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    purpose: str = Field(min_length=1, max_length=64)
    kind: Kind = "purpose"
    action: Literal["grant", "refuse", "withdraw"]
    notice_version: str | None = Field(default=None, max_length=32)
    channel: Literal["app", "web"] = "app"
    by_guardian: bool = False
    evidence: str = Field(default="", max_length=4000)


class PurposeOut(BaseModel):
    id: str
    label_zh: str
    label_en: str
    legal_basis: str
    necessary: bool
    separate: list[str]
    fields: list[str]


class PortalNoticeOut(BaseModel):
    notice: NoticeOut
    purposes: list[PurposeOut]


class PromptOut(BaseModel):
    purpose: str
    may_prompt: bool


def _notice(row: object) -> NoticeOut:
    return NoticeOut.model_validate(row, from_attributes=True)


def _consent(state: service.ConsentState) -> ConsentOut:
    return ConsentOut.model_validate(state, from_attributes=True)


@router.post("/v1/notices", status_code=201, response_model=NoticeOut)
def publish_notice(body: NoticeIn, rt: RuntimeDep, who: PrincipalDep) -> NoticeOut:
    """Publish a privacy notice; one missing anything PIPL Art. 17 requires is refused."""
    draft = service.NoticeDraft(
        version=body.version, sections={k: v.model_dump() for k, v in body.sections.items()}, purpose_fields=body.purpose_fields
    )
    with unit_of_work(rt) as session:
        return _notice(service.publish_notice(session, rt, who, draft))


@router.get("/v1/notices/{version}", response_model=NoticeOut)
def get_notice(version: Version, rt: RuntimeDep, who: PrincipalDep) -> NoticeOut:
    with unit_of_work(rt) as session:
        return _notice(service.get_notice(session, version))


@router.post("/v1/subjects/{subject_id}/consents", status_code=201, response_model=ConsentOut)
def record_consent(subject_id: SubjectId, body: ConsentIn, rt: RuntimeDep, who: PrincipalDep) -> ConsentOut:
    """Staff record a grant, refusal, withdrawal or prompt (e.g. a paper form at a branch)."""
    with unit_of_work(rt) as session:
        state = service.record(session, rt, who, subject_id, **body.model_dump())
    return _consent(state)


@router.get("/v1/subjects/{subject_id}/consents", response_model=list[ConsentOut])
def list_consents(subject_id: SubjectId, rt: RuntimeDep, who: PrincipalDep, history: Annotated[bool, Query()] = False) -> list[ConsentOut]:
    with unit_of_work(rt) as session:
        rows = service.history(session, rt, who, subject_id) if history else service.states(session, rt, who, subject_id)
    return [_consent(s) for s in rows]


# --- borrower-facing (the future portal; staff on the borrower's behalf for now) ---


@router.get("/v1/portal/subjects/{subject_id}/notice", response_model=PortalNoticeOut)
def portal_notice(subject_id: SubjectId, rt: RuntimeDep, who: PrincipalDep) -> PortalNoticeOut:
    """The current notice and each purpose, marking which are optional (PIPL Art. 16)."""
    with unit_of_work(rt) as session:
        service.states(session, rt, who, subject_id)  # same access rule and liveness check as the staff view
        row = service.current_notice(session)
        if row is None:
            raise UnknownNotice("current")
        notice = _notice(row)
    purposes = [
        PurposeOut(
            id=p.id,
            label_zh=p.label_zh,
            label_en=p.label_en,
            legal_basis=p.legal_basis,
            necessary=p.necessary,
            separate=sorted(p.separate),
            fields=notice.purpose_fields.get(p.id, []),
        )
        for p in rt.policy.purposes.by_id.values()
        if p.id in notice.purpose_fields
    ]
    return PortalNoticeOut(notice=notice, purposes=purposes)


@router.post("/v1/portal/subjects/{subject_id}/consents", status_code=201, response_model=ConsentOut)
def portal_consent(subject_id: SubjectId, body: PortalConsentIn, rt: RuntimeDep, who: PrincipalDep) -> ConsentOut:
    """The borrower grants, refuses or withdraws (app or web); withdrawal applies at once (PIPL Art. 15)."""
    with unit_of_work(rt) as session:
        state = service.record(session, rt, who, subject_id, **body.model_dump())
    return _consent(state)


@router.get("/v1/portal/subjects/{subject_id}/prompt", response_model=PromptOut)
def portal_prompt(
    subject_id: SubjectId, rt: RuntimeDep, who: PrincipalDep, purpose: Annotated[str, Query(min_length=1, max_length=64)]
) -> PromptOut:
    """May the portal ask this person for this purpose now? False after a refusal beyond the limit."""
    with unit_of_work(rt) as session:
        service.states(session, rt, who, subject_id)
        if purpose not in rt.policy.purposes:
            raise UnknownPurpose(purpose)
        return PromptOut(purpose=purpose, may_prompt=service.may_prompt(session, rt, subject_id, purpose))
