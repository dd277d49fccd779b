"""Provisions to recipients, staff bulk exports, and who received a person's data.

Services never commit; the caller's unit of work does, so a file, its fingerprint, its volume
count and its ledger entry exist together or not at all. Every value is read through
``subjects.service.read_fields`` (the vault's gate logs each read); only keyed digests stay here.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from lendshield import ledger
from lendshield.errors import Forbidden, InvalidInput
from lendshield.policy import Effect, Purpose
from lendshield.principals import Principal
from lendshield.runtime import Runtime
from lendshield.subjects import service as subjects
from lendshield.subjects.errors import ReadDenied, ReasonRequired
from lendshield.transfers import canaries, config, formats, gate
from lendshield.transfers.errors import ExportNotFound, GateFailure, ProvisionBlocked
from lendshield.transfers.fingerprint import DISTINCTIVE, ROW_REF_COLUMN, Marker, normalise
from lendshield.transfers.models import ExportRow, ExportSubjectRow, MarkRow, RecipientRow


@dataclass(frozen=True, slots=True, kw_only=True)
class ExportRequest:
    purpose: str
    subject_ids: Sequence[str]
    fields: Sequence[str]
    format: str = "csv"
    clear: bool = False
    reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ExportFile:
    export_id: str
    kind: str
    format: str
    media_type: str
    filename: str
    content: bytes
    people: int
    canaries: int
    fields: list[str]


@dataclass(frozen=True, slots=True, kw_only=True)
class Receipt:
    """One provision of a person's data: to whom, when, what, why (PIPL Arts. 23, 45)."""

    provision_id: str
    recipient_id: str
    recipient_name: str
    recipient_kind: str
    region: str
    contact: str
    purpose: str
    fields: list[str]
    provided_at: datetime


def _purpose(rt: Runtime, purpose_id: str) -> Purpose:
    purpose = rt.policy.purposes.get(purpose_id)
    if purpose is None:
        raise InvalidInput("purpose: no such purpose; see purposes.yaml", path="purpose")
    return purpose


def _clean(rt: Runtime, req: ExportRequest) -> tuple[list[str], list[str]]:
    rules = config.load(rt.settings.policies_dir)
    if req.format not in formats.FORMATS:
        raise InvalidInput(f"format must be one of {', '.join(formats.FORMATS)}", path="format")
    fields = list(dict.fromkeys(req.fields))
    if not fields:
        raise InvalidInput("fields: at least one field", path="fields")
    for name in fields:
        rt.catalog.field(name, f"fields.{name}")
    people = list(dict.fromkeys(req.subject_ids))
    if not people:
        raise InvalidInput("subject_ids: at least one person", path="subject_ids")
    if len(people) > rules.max_subjects_per_request:
        raise InvalidInput(f"subject_ids: at most {rules.max_subjects_per_request} people per request", path="subject_ids")
    if req.clear and not (req.reason and req.reason.strip()):
        raise ReasonRequired()
    return fields, people


def _refuse(
    session: Session, rt: Runtime, who: Principal, action: str, purpose: str, failures: list[GateFailure], extra: dict[str, object]
) -> ProvisionBlocked:
    """Write the refusal down (the unit of work keeps it) and return the error to raise."""
    ledger.append(
        session,
        ledger.Entry(
            time=rt.clock.now(),
            actor=who.id,
            action=action,
            object="export:refused",
            purpose=purpose,
            decision="deny",
            rule_id=",".join(sorted({f.condition for f in failures})),
            details={"failures": [{"condition": f.condition, "people": f.people} for f in failures], **extra},
        ),
    )
    return ProvisionBlocked(failures, what=action.removeprefix("transfer."))


def _read_all(
    session: Session, rt: Runtime, who: Principal, people: list[str], fields: list[str], req: ExportRequest, via: str
) -> tuple[list[subjects.SubjectView], list[GateFailure]]:
    """Read everyone through the vault's gate; any refusal for anyone blocks the whole file."""
    views: list[subjects.SubjectView] = []
    denied: dict[str, int] = {}
    partial: dict[str, int] = {}
    for sid in people:
        try:
            view = subjects.read_fields(session, rt, who, sid, fields, purpose=req.purpose, reason=req.reason, clear=req.clear, via=via)
        except ReadDenied as exc:
            for rule in exc.extra.get("rules", ["denied"]):
                denied[rule] = denied.get(rule, 0) + 1
            continue
        for name, decision in view.denied.items():
            partial[f"{name}: {decision.rule_id}"] = partial.get(f"{name}: {decision.rule_id}", 0) + 1
        views.append(view)
    failures = [GateFailure("read_denied", n, f"the gate refused every field ({rule})") for rule, n in sorted(denied.items())]
    failures += [GateFailure("field_denied", n, f"the gate refused {what}") for what, n in sorted(partial.items())]
    return views, failures


def _build(
    session: Session, rt: Runtime, export_id: str, fields: list[str], views: list[subjects.SubjectView]
) -> tuple[list[str], list[list[str]], list[dict[str, object]], int]:
    """Rows with canaries at random places, and the marks (keyed digests) of every row."""
    fp = config.load(rt.settings.policies_dir).fingerprint
    marker = Marker(rt)
    masked = {f for f in fields if any(f in v.fields and v.fields[f].effect is not Effect.CLEAR for v in views)}
    n_canaries = fp.canaries_for(len(views))
    spots = set(canaries.positions(len(views), n_canaries))
    today = gate.legal_today(rt)
    canary_kinds = ["canary" if f not in masked and rt.catalog.fields[f].validator_name in DISTINCTIVE else "weak" for f in fields]
    rows: list[list[str]] = []
    marks: dict[tuple[int, str, bytes], None] = {}
    real = iter(views)
    for slot in range(len(views) + n_canaries):
        if slot in spots:
            taken = canaries.vault_lookup(session, rt)  # a canary must never carry a real person's value
            fake = canaries.identity(rt.catalog, fields, today=today, email_domain=fp.canary_email_domain, taken=taken)
            values = [rt.catalog.fields[f].mask(fake[f]) if f in masked else fake[f] for f in fields]
            kinds = canary_kinds
        else:
            view = next(real)
            values = [view.fields[f].value if f in view.fields else "" for f in fields]
            kinds = ["value"] * len(fields)
        ref = marker.row_ref(export_id, slot)
        rows.append([ref, *values])
        marks[(slot, "rowref", marker.digest(ref))] = None
        for value, kind in zip(values, kinds, strict=True):
            norm = normalise(value)
            if norm is not None:
                marks[(slot, kind, marker.digest(norm))] = None
    mark_rows: list[dict[str, object]] = [{"export_id": export_id, "slot": s, "kind": k, "digest": d} for s, k, d in marks]
    return [ROW_REF_COLUMN, *fields], rows, mark_rows, n_canaries


def _export(
    session: Session,
    rt: Runtime,
    who: Principal,
    req: ExportRequest,
    *,
    kind: str,
    recipient: RecipientRow | None,
    fields: list[str],
    people: list[str],
) -> ExportFile:
    action = f"transfer.{kind}"
    views, failures = _read_all(session, rt, who, people, fields, req, via=kind)
    if failures:
        raise _refuse(session, rt, who, action, req.purpose, failures, {"recipient": recipient.id if recipient else None})
    export_id = str(uuid.uuid4())
    columns, rows, mark_rows, n_canaries = _build(session, rt, export_id, fields, views)
    content = formats.write(req.format, columns, rows)
    sha = hashlib.sha256(content).hexdigest()
    session.add(
        ExportRow(
            id=export_id,
            kind=kind,
            made_by=who.id,
            purpose=req.purpose,
            recipient_id=recipient.id if recipient else None,
            format=req.format,
            fields=fields,
            people=len(views),
            canaries=n_canaries,
            file_sha256=sha,
            created_at=rt.clock.now(),
        )
    )
    session.flush()
    session.execute(insert(ExportSubjectRow), [{"export_id": export_id, "subject_id": v.subject_id} for v in views])
    session.execute(insert(MarkRow), mark_rows)
    ledger.append(
        session,
        ledger.Entry(
            time=rt.clock.now(),
            actor=who.id,
            action=action,
            object=f"export:{export_id}",
            purpose=req.purpose,
            decision="allow",
            reason=req.reason or None,
            details={
                "people": len(views),
                "canaries": n_canaries,
                "fields": fields,
                "format": req.format,
                "clear": req.clear,
                "recipient": recipient.id if recipient else None,
                "file_sha256": sha,
            },
        ),
    )
    media_type, ext = formats.FORMATS[req.format]
    return ExportFile(
        export_id=export_id,
        kind=kind,
        format=req.format,
        media_type=media_type,
        filename=f"lendshield-{kind}-{export_id}.{ext}",
        content=content,
        people=len(views),
        canaries=n_canaries,
        fields=fields,
    )


def export(session: Session, rt: Runtime, who: Principal, req: ExportRequest) -> ExportFile:
    """A staff bulk export: every person read through the gate, the file fingerprinted, the export logged."""
    rules = config.load(rt.settings.policies_dir)
    if not who.roles & rules.export_roles:
        raise Forbidden("this role may not export personal data")
    _purpose(rt, req.purpose)
    fields, people = _clean(rt, req)
    failures, _live = gate.live_failures(session, people)
    if failures:
        raise _refuse(session, rt, who, "transfer.export", req.purpose, failures, {})
    return _export(session, rt, who, req, kind="export", recipient=None, fields=fields, people=people)


def provide(session: Session, rt: Runtime, who: Principal, recipient_id: str, req: ExportRequest) -> ExportFile:
    """Provision to a registered recipient: the provision gate for every person, then the export file."""
    rules = config.load(rt.settings.policies_dir)
    if not who.roles & rules.provision_roles:
        raise Forbidden("this role may not provide personal data to a recipient")
    purpose = _purpose(rt, req.purpose)
    fields, people = _clean(rt, req)
    recipient = session.get(RecipientRow, recipient_id) if len(recipient_id) <= 36 else None
    if recipient is None:
        failure = GateFailure("recipient_not_registered", len(people), "no such recipient in the registry (PIPL Arts. 21, 23)")
        raise _refuse(session, rt, who, "transfer.provision", req.purpose, [failure], {})
    result = gate.check(session, rt, recipient, purpose, people, fields)
    if result.failures:
        raise _refuse(session, rt, who, "transfer.provision", req.purpose, result.failures, {"recipient": recipient.id})
    out = _export(session, rt, who, req, kind="provision", recipient=recipient, fields=fields, people=people)
    if result.volume is not None:
        gate.record_volume(session, result.volume, recipient.id)
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class GateAnswer:
    """What the provision gate would say now, without reading or sending anything."""

    allowed: bool
    failures: list[GateFailure]
    abroad: bool
    year: int | None
    people_after: int | None
    sensitive_after: int | None
    tier: str | None


def check_provision(session: Session, rt: Runtime, who: Principal, recipient_id: str, req: ExportRequest) -> GateAnswer:
    """Ask the gate before providing (for the console and the lender's systems); no effect, no ledger entry."""
    rules = config.load(rt.settings.policies_dir)
    if not who.roles & rules.provision_roles:
        raise Forbidden("this role may not provide personal data to a recipient")
    purpose = _purpose(rt, req.purpose)
    fields, people = _clean(rt, req)
    recipient = session.get(RecipientRow, recipient_id) if len(recipient_id) <= 36 else None
    if recipient is None:
        failure = GateFailure("recipient_not_registered", len(people), "no such recipient in the registry (PIPL Arts. 21, 23)")
        return GateAnswer(allowed=False, failures=[failure], abroad=False, year=None, people_after=None, sensitive_after=None, tier=None)
    result = gate.check(session, rt, recipient, purpose, people, fields, dry_run=True)
    v = result.volume
    return GateAnswer(
        allowed=not result.failures,
        failures=result.failures,
        abroad=result.abroad,
        year=v.year if v else None,
        people_after=v.people_after if v else None,
        sensitive_after=v.sensitive_after if v else None,
        tier=v.tier if v else None,
    )


def recipients_of(session: Session, rt: Runtime, subject_id: str) -> list[Receipt]:
    """Every provision of this person's data, oldest first (for the access package, PIPL Art. 45)."""
    rows = session.execute(
        select(ExportRow, RecipientRow)
        .join(ExportSubjectRow, ExportSubjectRow.export_id == ExportRow.id)
        .join(RecipientRow, RecipientRow.id == ExportRow.recipient_id)
        .where(ExportSubjectRow.subject_id == subject_id, ExportRow.kind == "provision")
        .order_by(ExportRow.created_at, ExportRow.id)
    )
    return [
        Receipt(
            provision_id=e.id,
            recipient_id=r.id,
            recipient_name=r.name,
            recipient_kind=r.kind,
            region=r.region,
            contact=r.contact,
            purpose=e.purpose,
            fields=list(e.fields),
            provided_at=e.created_at,
        )
        for e, r in rows
    ]


def list_recipients_of(session: Session, rt: Runtime, who: Principal, subject_id: str) -> list[Receipt]:
    """``recipients_of`` for staff answering the person; the look-up is itself logged."""
    rules = config.load(rt.settings.policies_dir)
    if not who.roles & rules.recipients_of_roles:
        raise Forbidden("this role may not look up who received a person's data")
    subjects.require_live(session, subject_id)
    out = recipients_of(session, rt, subject_id)
    ledger.append(
        session,
        ledger.Entry(
            time=rt.clock.now(),
            actor=who.id,
            action="transfer.recipients_of",
            object="subject:recipients",
            subject_ref=ledger.subject_ref(rt.keys, subject_id),
            details={"provisions": len(out)},
        ),
    )
    return out


def get_export(session: Session, rt: Runtime, who: Principal, export_id: str) -> ExportRow:
    """What an export was (never its content): for its maker, the protection officer and auditors."""
    rules = config.load(rt.settings.policies_dir)
    row = session.get(ExportRow, export_id) if len(export_id) <= 36 else None
    allowed = who.roles & (rules.trace_roles | rules.registry_read_roles) or (row is not None and row.made_by == who.id)
    if not allowed:
        raise Forbidden("this role may not read export records")
    if row is None:
        raise ExportNotFound()
    return row


def list_exports(
    session: Session, rt: Runtime, who: Principal, *, kind: str | None = None, before: datetime | None = None, limit: int = 100
) -> list[ExportRow]:
    """Exports and provisions, newest first, for review by the officer and auditors (never their content)."""
    rules = config.load(rt.settings.policies_dir)
    if not who.roles & (rules.trace_roles | rules.registry_read_roles):
        raise Forbidden("this role may not read export records")
    if kind is not None and kind not in ("export", "provision"):
        raise InvalidInput("kind must be export or provision", path="kind")
    query = select(ExportRow).order_by(ExportRow.created_at.desc(), ExportRow.id.desc()).limit(max(1, min(limit, 1000)))
    if kind is not None:
        query = query.where(ExportRow.kind == kind)
    if before is not None:
        query = query.where(ExportRow.created_at < before)
    return list(session.scalars(query))
