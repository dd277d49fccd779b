"""HTTP routes of the watch domain: alerts for the protection officer (read by auditors), canaries."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from lendshield.errors import InvalidInput
from lendshield.watch import alerts, canaries, delivery, engine, schemas
from lendshield.watch.models import AlertDeliveryRow, AlertRow
from lendshield.web.deps import PrincipalDep, RuntimeDep, unit_of_work

router = APIRouter(prefix="/v1/watch", tags=["watch"])
AlertId = Annotated[int, Path(ge=1, le=2**31 - 1)]
DeliveryId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _delivery_out(row: AlertDeliveryRow) -> schemas.DeliveryOut:
    return schemas.DeliveryOut(
        id=row.id,
        alert_id=row.alert_id,
        event=row.event,  # type: ignore[arg-type]
        channel=row.channel,  # type: ignore[arg-type]
        status=row.status,  # type: ignore[arg-type]
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at if row.status == "pending" else None,
        last_attempt_at=row.last_attempt_at,
        delivered_at=row.delivered_at,
        last_error=row.last_error,
        created_at=row.created_at,
    )


def _out(row: AlertRow) -> schemas.AlertOut:
    return schemas.AlertOut(
        id=row.id,
        rule_id=row.rule_id,
        severity=row.severity,  # type: ignore[arg-type]
        status=row.status,  # type: ignore[arg-type]
        actor=row.actor,
        title=row.title,
        measure=row.measure,
        threshold=row.threshold,
        trigger_count=row.trigger_count,
        first_seen=row.first_seen,
        last_seen=row.last_seen,
        created_at=row.created_at,
        updated_at=row.updated_at,
        facts=dict(row.facts),
    )


def _cursor(raw: str | None) -> int | None:
    if raw is None:
        return None
    if not raw.isdigit() or len(raw) > 10:
        raise InvalidInput("cursor: not a cursor this API gave out")
    return int(raw)


@router.get("/alerts", response_model=schemas.AlertPage)
def list_alerts(
    rt: RuntimeDep,
    who: PrincipalDep,
    status: schemas.Status | None = None,
    severity: schemas.Severity | None = None,
    rule: Annotated[str | None, Query(max_length=64, pattern=r"^[a-z][a-z0-9-]*$")] = None,
    actor: Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9:._-]+$")] = None,
    cursor: Annotated[str | None, Query(max_length=10, pattern=r"^[0-9]{1,10}$")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> schemas.AlertPage:
    """Newest first; pass ``next_cursor`` back as ``cursor`` for the next page."""
    with unit_of_work(rt) as session:
        rows = alerts.list_alerts(
            session, who, status=status, severity=severity, rule=rule, actor=actor, before_id=_cursor(cursor), limit=limit
        )
        items = [_out(r) for r in rows]
    return schemas.AlertPage(items=items, next_cursor=str(items[-1].id) if len(items) == limit else None)


@router.get("/alerts/{alert_id}", response_model=schemas.AlertDetailOut)
def get_alert(alert_id: AlertId, rt: RuntimeDep, who: PrincipalDep) -> schemas.AlertDetailOut:
    """The alert with the ledger entries that triggered it and every change of its status."""
    with unit_of_work(rt) as session:
        detail = alerts.get_alert(session, rt, who, alert_id)
        sent = delivery.list_deliveries(session, who, alert_id=alert_id, limit=200)
        return schemas.AlertDetailOut(
            deliveries=[_delivery_out(d) for d in sent],
            **_out(detail.alert).model_dump(),
            seqs=[e.seq for e in detail.entries],
            entries=[
                schemas.EntryOut(
                    seq=e.seq,
                    time=e.time,
                    actor=e.actor,
                    action=e.action,
                    object=e.object,
                    subject_ref=e.subject_ref,
                    purpose=e.purpose,
                    decision=e.decision,
                    rule_id=e.rule_id,
                    reason=e.reason,
                )
                for e in detail.entries
            ],
            notes=[
                schemas.NoteOut(at=n.at, by=n.by, from_status=n.from_status, to_status=n.to_status, note=n.note, ledger_seq=n.ledger_seq)  # type: ignore[arg-type]
                for n in detail.notes
            ],
        )


@router.post("/alerts/{alert_id}/acknowledge", response_model=schemas.AlertOut)
def acknowledge(alert_id: AlertId, body: schemas.NoteIn, rt: RuntimeDep, who: PrincipalDep) -> schemas.AlertOut:
    with unit_of_work(rt) as session:
        return _out(alerts.transition(session, rt, who, alert_id, "acknowledge", body.note))


@router.post("/alerts/{alert_id}/resolve", response_model=schemas.AlertOut)
def resolve(alert_id: AlertId, body: schemas.NoteIn, rt: RuntimeDep, who: PrincipalDep) -> schemas.AlertOut:
    with unit_of_work(rt) as session:
        return _out(alerts.transition(session, rt, who, alert_id, "resolve", body.note))


@router.get("/deliveries", response_model=schemas.DeliveryPage)
def list_deliveries(
    rt: RuntimeDep,
    who: PrincipalDep,
    status: schemas.DeliveryStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> schemas.DeliveryPage:
    """Alert deliveries to the protection officer, newest first: delivered, pending a retry, failed."""
    with unit_of_work(rt) as session:
        rows = delivery.list_deliveries(session, who, status=status, limit=limit)
        return schemas.DeliveryPage(items=[_delivery_out(r) for r in rows])


@router.post("/deliveries/{delivery_id}/retry", response_model=schemas.DeliveryOut)
def retry_delivery(delivery_id: DeliveryId, rt: RuntimeDep, who: PrincipalDep) -> schemas.DeliveryOut:
    """Put a failed delivery back in the outbox, once the receiver or the settings are fixed."""
    with unit_of_work(rt) as session:
        return _delivery_out(delivery.retry(session, rt, who, delivery_id))


@router.post("/canaries", status_code=201, response_model=list[schemas.CanaryOut])
def create_canaries(body: schemas.CanariesIn, rt: RuntimeDep, who: PrincipalDep) -> list[schemas.CanaryOut]:
    """Plant canary subjects. Their values are never returned: they stay in the vault, like anyone's."""
    with unit_of_work(rt) as session:
        made = canaries.create_canaries(session, rt, who, body.count, label=body.label)
    return [
        schemas.CanaryOut(subject_id=c.subject_id, label=c.label, created_at=c.created_at, registered_seq=c.registered_seq) for c in made
    ]


@router.get("/canaries", response_model=list[schemas.CanaryOut])
def list_canaries(rt: RuntimeDep, who: PrincipalDep) -> list[schemas.CanaryOut]:
    with unit_of_work(rt) as session:
        found = canaries.list_canaries(session, who)
    return [
        schemas.CanaryOut(subject_id=c.subject_id, label=c.label, created_at=c.created_at, registered_seq=c.registered_seq) for c in found
    ]


@router.post("/run", response_model=schemas.RunOut)
def run_now(rt: RuntimeDep, who: PrincipalDep) -> schemas.RunOut:
    """Process the ledger up to now instead of waiting for the periodic job."""
    result = engine.run_for(rt, who)
    return schemas.RunOut(processed=result.processed, alerts_raised=result.alerts_raised, cursor=result.cursor)
