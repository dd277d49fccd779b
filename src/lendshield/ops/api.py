"""Incidents over HTTP (the protection officer)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from lendshield.ops import incidents
from lendshield.web.deps import PrincipalDep, RuntimeDep, unit_of_work

router = APIRouter(prefix="/v1/incidents", tags=["incidents"])
IncidentId = Annotated[str, Path(min_length=36, max_length=36)]
Text = Annotated[str, Field(min_length=1, max_length=2000)]


class IncidentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: Annotated[str, Field(min_length=1, max_length=200)]
    cause: Text
    harm: Text
    remedies: Text
    advice: Text
    contact: Annotated[str, Field(min_length=1, max_length=500)]


class ScopeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # With an offset (RFC 3339): a window without one would be read in whichever zone the server is in.
    start: AwareDatetime
    end: AwareDatetime
    actor: Annotated[str, Field(max_length=64)] | None = None


class ScopeExportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    export_id: Annotated[str, Field(min_length=1, max_length=36, description="the export `lendshield trace` named")]


class NotifiedIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    subject_ref: Annotated[str, Field(min_length=64, max_length=64, pattern=r"^[0-9a-f]{64}$")] | None = None
    channel: Annotated[str, Field(min_length=1, max_length=32)]


class IncidentSummaryOut(BaseModel):
    id: str
    title: str
    status: str
    opened_at: str = Field(description="RFC 3339, UTC")
    opened_by: str
    affected: int = Field(description="people found affected so far (from the ledger or a leak trace)")
    people_notified: int
    regulator_notified_at: str | None
    regulator_channel: str | None
    regulator_notice_due_by: str = Field(description="the internal deadline (settings incident_notice_hours), RFC 3339, UTC")
    regulator_notice_overdue: bool


class IncidentOut(IncidentSummaryOut):
    cause: str
    harm: str
    remedies: str
    advice: str
    contact: str


@router.get("", response_model=list[IncidentSummaryOut])
def list_incidents(rt: RuntimeDep, who: PrincipalDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
    """Incidents, newest first, with how many people are affected and how far the notices went."""
    with unit_of_work(rt) as session:
        return incidents.list_incidents(session, rt, who, limit=limit)


@router.get("/{incident_id}", response_model=IncidentOut)
def get_incident(incident_id: IncidentId, rt: RuntimeDep, who: PrincipalDep) -> dict[str, Any]:
    with unit_of_work(rt) as session:
        return incidents.get_incident(session, rt, who, incident_id)


@router.post("", status_code=201)
def open_incident(body: IncidentIn, rt: RuntimeDep, who: PrincipalDep) -> dict[str, str]:
    with unit_of_work(rt) as session:
        incident_id = incidents.open_incident(session, rt, who, incidents.IncidentFacts(**body.model_dump()))
    return {"id": incident_id}


@router.post("/{incident_id}/scope")
def scope(incident_id: IncidentId, body: ScopeIn, rt: RuntimeDep, who: PrincipalDep) -> dict[str, int]:
    with unit_of_work(rt) as session:
        affected = incidents.find_affected_from_ledger(session, rt, who, incident_id, start=body.start, end=body.end, actor=body.actor)
    return {"affected": affected}


@router.post("/{incident_id}/scope-export")
def scope_export(incident_id: IncidentId, body: ScopeExportIn, rt: RuntimeDep, who: PrincipalDep) -> dict[str, int]:
    """Everyone in a leaked export (found with `lendshield trace` or `POST /v1/transfers/trace`) is affected."""
    with unit_of_work(rt) as session:
        affected = incidents.find_affected_from_export(session, rt, who, incident_id, export_id=body.export_id)
    return {"affected": affected}


@router.get("/{incident_id}/notices")
def notices(incident_id: IncidentId, rt: RuntimeDep, who: PrincipalDep) -> dict[str, Any]:
    with unit_of_work(rt) as session:
        return incidents.draft_notices(session, rt, who, incident_id)


@router.post("/{incident_id}/notified", status_code=204)
def notified(incident_id: IncidentId, body: NotifiedIn, rt: RuntimeDep, who: PrincipalDep) -> None:
    with unit_of_work(rt) as session:
        incidents.mark_notified(session, rt, who, incident_id, subject_ref=body.subject_ref, channel=body.channel)
