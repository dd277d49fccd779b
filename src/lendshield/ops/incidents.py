"""Breach handling as an incident (PIPL Art. 57; 网络数据安全管理条例 Art. 11).

Open an incident, find who was affected from the ledger (every read of a person's data in a
window, optionally by one actor), draft the notices the law requires — to the regulator and to
each person: what categories of data, the cause, the possible harm, the remedies taken, what the
person can do, and whom to contact — in Chinese and English, and track what was sent and when.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lendshield import ledger
from lendshield.errors import Conflict, Forbidden, InvalidInput, NotFound
from lendshield.ledger.entry import rfc3339
from lendshield.ledger.models import LedgerEntryRow
from lendshield.ops.models import IncidentRow, IncidentSubjectRow
from lendshield.principals import Principal
from lendshield.runtime import Runtime

OFFICER_ROLES = frozenset({"protection_officer"})
READ_ACTIONS = ("subject.read", "subject.detokenize", "subject.tokenize", "subject.export")


def _officer(who: Principal) -> None:
    if not who.roles & OFFICER_ROLES:
        raise Forbidden("incidents are handled by the personal-information protection officer")


@dataclass(frozen=True)
class IncidentFacts:
    title: str
    cause: str
    harm: str
    remedies: str
    advice: str
    contact: str


def open_incident(session: Session, rt: Runtime, who: Principal, facts: IncidentFacts) -> str:
    _officer(who)
    for name in ("title", "cause", "harm", "remedies", "advice", "contact"):
        if not getattr(facts, name).strip():
            raise InvalidInput(f"{name}: required (PIPL Art. 57 notices must state it)")
    incident_id = str(uuid.uuid4())
    now = rt.clock.now()
    session.add(
        IncidentRow(
            id=incident_id,
            title=facts.title,
            cause=facts.cause,
            harm=facts.harm,
            remedies=facts.remedies,
            advice=facts.advice,
            contact=facts.contact,
            status="open",
            opened_at=now,
            opened_by=who.id,
            regulator_notified_at=None,
        )
    )
    ledger.append(session, ledger.Entry(time=now, actor=who.id, action="incident.open", object=f"incident:{incident_id}"))
    return incident_id


def _incident(session: Session, incident_id: str) -> IncidentRow:
    row = session.get(IncidentRow, incident_id) if len(incident_id) <= 36 else None
    if row is None:
        raise NotFound("no such incident")
    return row


def find_affected_from_ledger(
    session: Session, rt: Runtime, who: Principal, incident_id: str, *, start: datetime, end: datetime, actor: str | None = None
) -> int:
    """Record as affected every person whose data was read in [start, end) (by ``actor`` if given).

    Only fields actually disclosed (clear or masked) count; denied reads exposed nothing.
    """
    _officer(who)
    if end <= start:
        raise InvalidInput("the window must end after it starts")
    incident = _incident(session, incident_id)
    query = select(LedgerEntryRow).where(
        LedgerEntryRow.action.in_(READ_ACTIONS),
        LedgerEntryRow.time >= start,
        LedgerEntryRow.time < end,
        LedgerEntryRow.subject_ref.is_not(None),
    )
    if actor is not None:
        query = query.where(LedgerEntryRow.actor == actor)
    exposed: dict[str, set[str]] = defaultdict(set)
    for row in session.scalars(query):
        decisions: dict[str, Any] = dict((row.details or {}).get("decisions") or {})  # type: ignore[call-overload]
        fields = {name for name, (effect, _rule) in decisions.items() if effect in ("clear", "mask")} if decisions else set()
        if fields or not decisions:
            assert row.subject_ref is not None
            exposed[row.subject_ref] |= fields
    _record_affected(session, rt, incident.id, exposed, source="ledger")
    ledger.append(
        session,
        ledger.Entry(
            time=rt.clock.now(),
            actor=who.id,
            action="incident.scope",
            object=f"incident:{incident.id}",
            details={"affected": len(exposed), "window": [start.isoformat(), end.isoformat()], "actor": actor},
        ),
    )
    return len(exposed)


def _record_affected(session: Session, rt: Runtime, incident_id: str, exposed: Mapping[str, set[str]], *, source: str) -> None:
    """Add each person (by ledger subject ref) with the categories of the fields exposed, or widen
    the categories of a person the incident already lists."""
    known = {r.subject_ref: r for r in session.scalars(select(IncidentSubjectRow).where(IncidentSubjectRow.incident_id == incident_id))}
    for ref, fields in exposed.items():
        categories = sorted({rt.catalog.fields[f].category for f in fields if f in rt.catalog.fields})
        if ref in known:
            known[ref].categories = sorted(set(known[ref].categories) | set(categories))
        else:
            session.add(
                IncidentSubjectRow(
                    incident_id=incident_id, subject_ref=ref, source=source, categories=categories, notified_at=None, channel=None
                )
            )


def find_affected_from_export(session: Session, rt: Runtime, who: Principal, incident_id: str, *, export_id: str) -> int:
    """Record as affected every person in an export that leaked (the one `lendshield trace` named).

    The categories are those of the fields the export carried; canary rows are no one and are
    not in the export's list of people.
    """
    from lendshield.transfers.models import ExportRow, ExportSubjectRow  # ops reads transfers' records

    _officer(who)
    incident = _incident(session, incident_id)
    export = session.get(ExportRow, export_id) if len(export_id) <= 36 else None
    if export is None:
        raise NotFound("no such export")
    people = session.scalars(select(ExportSubjectRow.subject_id).where(ExportSubjectRow.export_id == export.id)).all()
    fields = set(export.fields)
    _record_affected(session, rt, incident.id, {ledger.subject_ref(rt.keys, sid): fields for sid in people}, source="trace")
    ledger.append(
        session,
        ledger.Entry(
            time=rt.clock.now(),
            actor=who.id,
            action="incident.scope",
            object=f"incident:{incident.id}",
            details={"affected": len(people), "export": export.id},
        ),
    )
    return len(people)


def _category_labels(rt: Runtime, categories: list[str], lang: str) -> str:
    key = "label_zh" if lang == "zh" else "label_en"
    labels = [str(rt.catalog.categories.get(c, {}).get(key, c)) for c in categories]
    return ("、" if lang == "zh" else ", ").join(labels) or ("（无）" if lang == "zh" else "(none)")


def draft_notices(session: Session, rt: Runtime, who: Principal, incident_id: str) -> dict[str, Any]:
    """The regulator's notice and one notice per affected person, in Chinese and English."""
    _officer(who)
    incident = _incident(session, incident_id)
    people = list(session.scalars(select(IncidentSubjectRow).where(IncidentSubjectRow.incident_id == incident.id)))
    all_categories = sorted({c for p in people for c in p.categories})
    regulator = {
        "zh": (
            f"个人信息安全事件报告：{incident.title}\n涉及个人信息种类：{_category_labels(rt, all_categories, 'zh')}\n"
            f"涉及人数：{len(people)}\n事件原因：{incident.cause}\n可能造成的危害：{incident.harm}\n"
            f"已采取的补救措施：{incident.remedies}\n个人可采取的措施：{incident.advice}\n联系方式：{incident.contact}"
        ),
        "en": (
            f"Personal-information security incident report: {incident.title}\n"
            f"Categories of personal information: {_category_labels(rt, all_categories, 'en')}\n"
            f"Individuals affected: {len(people)}\nCause: {incident.cause}\nPossible harm: {incident.harm}\n"
            f"Remedial measures taken: {incident.remedies}\nWhat individuals can do: {incident.advice}\n"
            f"Contact: {incident.contact}"
        ),
    }
    notices = [
        {
            "subject_ref": p.subject_ref,
            "categories": p.categories,
            "zh": (
                f"尊敬的用户：我们发生了一起个人信息安全事件（{incident.title}），可能涉及您的"
                f"{_category_labels(rt, p.categories, 'zh')}。原因：{incident.cause}。可能的影响：{incident.harm}。"
                f"我们已采取：{incident.remedies}。建议您：{incident.advice}。如有疑问请联系：{incident.contact}。"
            ),
            "en": (
                f"We are writing about a personal-information security incident ({incident.title}) that may involve your "
                f"{_category_labels(rt, p.categories, 'en')}. Cause: {incident.cause}. Possible harm: {incident.harm}. "
                f"What we have done: {incident.remedies}. What you can do: {incident.advice}. Contact: {incident.contact}."
            ),
            "notified_at": _when(p.notified_at),
            "channel": p.channel,
        }
        for p in people
    ]
    sent = {"notified_at": _when(incident.regulator_notified_at), "channel": incident.regulator_channel}
    return {"incident": incident.id, "regulator": regulator | sent, "people": notices}


def _when(at: datetime | None) -> str | None:
    return rfc3339(at) if at is not None else None


def regulator_notice_due(rt: Runtime, incident: IncidentRow) -> datetime:
    """When the regulator's notice is due under the internal deadline (``incident_notice_hours``)."""
    return incident.opened_at + timedelta(hours=rt.settings.incident_notice_hours)


def _overdue(rt: Runtime, incident: IncidentRow, now: datetime) -> bool:
    return incident.regulator_notified_at is None and now > regulator_notice_due(rt, incident)


def overdue_incidents(session: Session, rt: Runtime, now: datetime) -> list[IncidentRow]:
    """Open incidents whose regulator notice is past its internal deadline and not yet sent."""
    cutoff = now - timedelta(hours=rt.settings.incident_notice_hours)
    query = select(IncidentRow).where(
        IncidentRow.status == "open", IncidentRow.regulator_notified_at.is_(None), IncidentRow.opened_at < cutoff
    )
    return list(session.scalars(query.order_by(IncidentRow.opened_at)))


def _summary(rt: Runtime, incident: IncidentRow, affected: int, notified: int) -> dict[str, Any]:
    return {
        "id": incident.id,
        "title": incident.title,
        "status": incident.status,
        "opened_at": rfc3339(incident.opened_at),
        "opened_by": incident.opened_by,
        "affected": affected,
        "people_notified": notified,
        "regulator_notified_at": _when(incident.regulator_notified_at),
        "regulator_channel": incident.regulator_channel,
        "regulator_notice_due_by": rfc3339(regulator_notice_due(rt, incident)),
        "regulator_notice_overdue": _overdue(rt, incident, rt.clock.now()),
    }


def _counts(session: Session, incident_ids: list[str]) -> dict[str, tuple[int, int]]:
    """(affected, notified) per incident, in one query."""
    s = IncidentSubjectRow
    rows = session.execute(
        select(s.incident_id, func.count(), func.count(s.notified_at)).where(s.incident_id.in_(incident_ids)).group_by(s.incident_id)
    )
    return {incident_id: (int(affected), int(notified)) for incident_id, affected, notified in rows}


def list_incidents(session: Session, rt: Runtime, who: Principal, *, limit: int = 100) -> list[dict[str, Any]]:
    """The incidents, newest first, each with how many people are affected and how far the notices went."""
    _officer(who)
    incidents = list(session.scalars(select(IncidentRow).order_by(IncidentRow.opened_at.desc(), IncidentRow.id).limit(limit)))
    counts = _counts(session, [i.id for i in incidents]) if incidents else {}
    return [_summary(rt, i, *counts.get(i.id, (0, 0))) for i in incidents]


def get_incident(session: Session, rt: Runtime, who: Principal, incident_id: str) -> dict[str, Any]:
    """One incident: its facts as the notices state them, and what was sent to whom and when."""
    _officer(who)
    incident = _incident(session, incident_id)
    affected, notified = _counts(session, [incident.id]).get(incident.id, (0, 0))
    facts = {name: getattr(incident, name) for name in ("cause", "harm", "remedies", "advice", "contact")}
    return _summary(rt, incident, affected, notified) | facts


def mark_notified(session: Session, rt: Runtime, who: Principal, incident_id: str, *, subject_ref: str | None, channel: str) -> None:
    """Record that the regulator (``subject_ref`` None) or one person was notified, and how."""
    _officer(who)
    incident = _incident(session, incident_id)
    now = rt.clock.now()
    if subject_ref is None:
        if incident.regulator_notified_at is not None:
            raise Conflict("the regulator was already notified")
        incident.regulator_notified_at, incident.regulator_channel = now, channel[:32]
    else:
        row = session.scalar(
            select(IncidentSubjectRow).where(IncidentSubjectRow.incident_id == incident.id, IncidentSubjectRow.subject_ref == subject_ref)
        )
        if row is None:
            raise NotFound("that person is not among this incident's affected people")
        row.notified_at, row.channel = now, channel[:32]
    ledger.append(
        session,
        ledger.Entry(
            time=now,
            actor=who.id,
            action="incident.notify",
            object=f"incident:{incident.id}",
            subject_ref=subject_ref,
            details={"channel": channel[:32], "to": "regulator" if subject_ref is None else "person"},
        ),
    )
