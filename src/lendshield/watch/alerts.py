"""Alerts: raised by rules (de-duplicated per rule, actor and window), worked by the protection officer.

Every change is a ledger entry in the same transaction: raising, new evidence, acknowledging,
resolving, reopening. No personal value is ever part of an alert.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import structlog
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from lendshield import ledger
from lendshield.errors import Forbidden, InvalidInput
from lendshield.principals import SYSTEM, Principal
from lendshield.runtime import Runtime
from lendshield.watch import delivery, ledger_read
from lendshield.watch.errors import AlertNotFound, AlertTransitionRefused
from lendshield.watch.models import AlertEntryRow, AlertNoteRow, AlertRow

log = structlog.get_logger("lendshield.watch")

# PIPL Art. 52: the protection officer supervises processing; auditors read (R16), never change.
READ_ROLES = frozenset({"protection_officer", "auditor"})
WORK_ROLES = frozenset({"protection_officer"})
MAX_SHOWN = 500
"""Triggering entries shown with an alert (the first ones); ``trigger_count`` has them all."""
STATUSES = ("open", "acknowledged", "resolved")


@dataclass
class Finding:
    """What a rule concluded: becomes a new alert, or evidence on the alert of its window."""

    rule_id: str
    severity: str
    actor: str
    window_key: str
    title: str
    measure: int
    threshold: int
    first_seen: datetime
    last_seen: datetime
    seqs: set[int] = field(default_factory=set)
    facts: dict[str, Any] = field(default_factory=dict)
    subject_ref: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.rule_id, self.actor, self.window_key)

    def merge(self, other: Finding) -> None:
        self.seqs |= other.seqs
        self.measure = max(self.measure, other.measure)
        self.first_seen = min(self.first_seen, other.first_seen)
        self.last_seen = max(self.last_seen, other.last_seen)
        self.facts = merge_facts(self.facts, other.facts)
        if self.rule_id == "canary-touch":
            self.measure = len(self.facts["canaries"])  # distinct canaries touched in the window


def merge_facts(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Lists are united, numbers keep their highest value, anything else its first."""
    out = dict(old)
    for k, v in new.items():
        before = out.get(k)
        if isinstance(v, list) and isinstance(before, list):
            out[k] = sorted(set(before) | set(v))
        elif isinstance(v, int) and isinstance(before, int) and not isinstance(v, bool):
            out[k] = max(before, v)
        else:
            out.setdefault(k, v)
    return out


def merge_findings(findings: list[Finding]) -> list[Finding]:
    out: dict[tuple[str, str, str], Finding] = {}
    for f in findings:
        if f.key in out:
            out[f.key].merge(f)
        else:
            out[f.key] = f
    return list(out.values())


def _entry(rt: Runtime, action: str, alert: AlertRow, who: Principal, subject_ref: str | None = None, **details: Any) -> ledger.Entry:
    return ledger.Entry(
        time=rt.clock.now(),
        actor=who.id,
        action=action,
        object=f"alert:{alert.id}",
        subject_ref=subject_ref,
        rule_id=alert.rule_id,
        details={"rule": alert.rule_id, "severity": alert.severity, "status": alert.status, **details},
    )


def _existing_seqs(session: Session, alert_id: int) -> set[int]:
    return set(session.scalars(select(AlertEntryRow.seq).where(AlertEntryRow.alert_id == alert_id)))


def _add_evidence(session: Session, alert_id: int, seqs: list[int]) -> None:
    # One multi-row INSERT per thousand: an hour of a bulk reader's evidence is one round trip.
    ordered = sorted(seqs)
    for start in range(0, len(ordered), 1000):
        rows = [{"alert_id": alert_id, "seq": seq} for seq in ordered[start : start + 1000]]
        session.execute(insert(AlertEntryRow).values(rows))


def record(session: Session, rt: Runtime, finding: Finding) -> bool:
    """Raise a new alert for the finding's window, or add its evidence to the one there is.

    Returns True only when a new alert was raised. A resolved alert that gets new evidence in
    its window is reopened: the officer closed it on what they knew then.
    """
    now = rt.clock.now()
    row = session.scalar(
        select(AlertRow).where(
            AlertRow.rule_id == finding.rule_id, AlertRow.actor == finding.actor, AlertRow.window_key == finding.window_key
        )
    )
    if row is None:
        row = AlertRow(
            rule_id=finding.rule_id,
            severity=finding.severity,
            status="open",
            actor=finding.actor,
            window_key=finding.window_key,
            title=finding.title[:300],
            measure=finding.measure,
            threshold=finding.threshold,
            facts=finding.facts,
            trigger_count=len(finding.seqs),
            first_seen=finding.first_seen,
            last_seen=finding.last_seen,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        session.flush()
        _add_evidence(session, row.id, list(finding.seqs))
        ledger.append(session, _entry(rt, "watch.alert.raise", row, SYSTEM, finding.subject_ref, triggers=len(finding.seqs)))
        # The officer's queue is the API and console; the outbox (same transaction) reaches them
        # by webhook or e-mail when configured, and the log line lets an operator page them.
        delivery.enqueue(session, rt, row, "raised")
        log.warning("watch_alert", alert=row.id, rule=row.rule_id, severity=row.severity)
        return True
    known = _existing_seqs(session, row.id)
    fresh = sorted(finding.seqs - known)
    if not fresh and finding.seqs:
        return False
    if not finding.seqs and finding.measure <= row.measure:
        return False  # a repeat of an evidence-less finding (a scan hit) in the same window
    _add_evidence(session, row.id, fresh)
    row.trigger_count += len(fresh)
    row.facts = merge_facts(row.facts, finding.facts)  # a new dict: JSON columns see only assignment
    row.measure = len(row.facts["canaries"]) if row.rule_id == "canary-touch" else max(row.measure, finding.measure)
    row.first_seen = min(row.first_seen, finding.first_seen)
    row.last_seen = max(row.last_seen, finding.last_seen)
    row.updated_at = now
    if row.status == "resolved":
        _change(session, rt, SYSTEM, row, "open", "reopened: new triggering entries in the same window", "watch.alert.reopen")
        delivery.enqueue(session, rt, row, "reopened")
    else:
        ledger.append(session, _entry(rt, "watch.alert.evidence", row, SYSTEM, finding.subject_ref, added=len(fresh)))
    session.flush()
    return False


def _change(session: Session, rt: Runtime, who: Principal, row: AlertRow, to: str, note: str, action: str) -> None:
    before = row.status
    row.status = to
    row.updated_at = rt.clock.now()
    seq = ledger.append(session, _entry(rt, action, row, who, from_status=before))
    session.add(AlertNoteRow(alert_id=row.id, at=rt.clock.now(), by=who.id, from_status=before, to_status=to, note=note, ledger_seq=seq))


def _need(who: Principal, roles: frozenset[str], what: str) -> None:
    if not who.roles & roles:
        raise Forbidden(f"only the protection officer{' or an auditor' if 'auditor' in roles else ''} may {what}")


@dataclass(frozen=True, slots=True)
class AlertDetail:
    alert: AlertRow
    entries: list[ledger_read.Record]
    notes: list[AlertNoteRow]


def list_alerts(
    session: Session,
    who: Principal,
    *,
    status: str | None = None,
    severity: str | None = None,
    rule: str | None = None,
    actor: str | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[AlertRow]:
    """Newest first; ``before_id`` is the cursor (the last id of the previous page)."""
    _need(who, READ_ROLES, "read alerts")
    query = select(AlertRow).order_by(AlertRow.id.desc()).limit(limit)
    if status is not None:
        query = query.where(AlertRow.status == status)
    if severity is not None:
        query = query.where(AlertRow.severity == severity)
    if rule is not None:
        query = query.where(AlertRow.rule_id == rule)
    if actor is not None:
        query = query.where(AlertRow.actor == actor)
    if before_id is not None:
        query = query.where(AlertRow.id < before_id)
    return list(session.scalars(query))


def get_alert(session: Session, rt: Runtime, who: Principal, alert_id: int) -> AlertDetail:
    """One alert with its triggering ledger entries and the history of its status."""
    _need(who, READ_ROLES, "read alerts")
    row = session.get(AlertRow, alert_id)
    if row is None:
        raise AlertNotFound()
    seqs = list(
        session.scalars(select(AlertEntryRow.seq).where(AlertEntryRow.alert_id == row.id).order_by(AlertEntryRow.seq).limit(MAX_SHOWN))
    )
    notes = list(session.scalars(select(AlertNoteRow).where(AlertNoteRow.alert_id == row.id).order_by(AlertNoteRow.id)))
    # Looking at the evidence is itself access to a record of people's data: logged (R16).
    ledger.append(session, _entry(rt, "watch.alert.view", row, who))
    return AlertDetail(alert=row, entries=ledger_read.by_seq(session, seqs), notes=notes)


Transition = Literal["acknowledge", "resolve"]
_ALLOWED = {"acknowledge": ({"open"}, "acknowledged"), "resolve": ({"open", "acknowledged"}, "resolved")}


def transition(session: Session, rt: Runtime, who: Principal, alert_id: int, to: Transition, note: str) -> AlertRow:
    """Acknowledge (open -> acknowledged) or resolve (open or acknowledged -> resolved), with a note."""
    _need(who, WORK_ROLES, "work on alerts")
    if to not in _ALLOWED:
        raise InvalidInput("the transition is acknowledge or resolve")
    note = note.strip()
    if not note:
        raise InvalidInput("note: say what was done or found")
    row = session.get(AlertRow, alert_id)
    if row is None:
        raise AlertNotFound()
    sources, target = _ALLOWED[to]
    if row.status not in sources:
        raise AlertTransitionRefused(f"an alert that is {row.status} cannot be {target}")
    _change(session, rt, who, row, target, note, f"watch.alert.{to}")
    session.flush()
    return row
