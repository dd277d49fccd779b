"""Retention (PIPL Art. 19: no longer than the purpose needs; Art. 47: then delete or anonymise).

A purpose needs a person's data while it is in force for them (consent given; for a contract or
legal duty, a loan not paid off; for ``rights_request``, a request still open) and then for its
``retention_days`` (purposes.yaml) after it last applied. A person no purpose needs is erased
(crypto-shred and tombstone) unless a legal hold keeps the data (storage only until it ends).
The sweep also finishes deletions parked behind a hold that has ended, drops access packages
after ``retention.package_days`` and closes requests never verified.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, Table, delete, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from lendshield import ledger
from lendshield.consent.models import ConsentRow
from lendshield.db.base import Base
from lendshield.loans.models import LoanRow
from lendshield.principals import SYSTEM, Principal
from lendshield.rights import holds
from lendshield.rights import service as svc
from lendshield.rights.models import RightsRequestRow, VerificationCodeRow
from lendshield.runtime import Runtime

GROUND = "retention_expired"


@dataclass(frozen=True, slots=True)
class Action:
    kind: str  # erase | keep_held | finish_held_deletion | drop_package | close_unverified
    target: str  # a subject id or a request id (opaque ids, no personal data)
    reason: str


@dataclass
class SweepReport:
    dry_run: bool
    actions: list[Action] = field(default_factory=list)
    codes_removed: int = 0

    def count(self, kind: str) -> int:
        return sum(a.kind == kind for a in self.actions)


def _subjects_table() -> Table:
    # The sweep needs only ids, kinds, statuses and creation times (no keys, no ciphertext), so
    # it reads the subjects table through the shared metadata instead of the vault's models.
    return Base.metadata.tables["subjects"]


@dataclass
class _Facts:
    """What retention needs about a set of people, loaded in a handful of grouped queries."""

    created: dict[str, dt.datetime] = field(default_factory=dict)
    open_loans: set[str] = field(default_factory=set)
    last_loan: dict[str, dt.datetime] = field(default_factory=dict)
    consent_action: dict[tuple[str, str], str] = field(default_factory=dict)
    consent_time: dict[tuple[str, str], dt.datetime] = field(default_factory=dict)
    open_requests: dict[str, set[str]] = field(default_factory=dict)
    last_closed: dict[str, dt.datetime] = field(default_factory=dict)


def _facts(session: Session, ids: list[str] | None) -> _Facts:
    """Facts for ``ids``, or for every active borrower when None."""
    table = _subjects_table()
    people = select(table.c.id, table.c.created_at)
    people = people.where(table.c.id.in_(ids)) if ids is not None else people.where(table.c.kind == "borrower", table.c.status == "active")
    facts = _Facts(created=dict(session.execute(people.order_by(table.c.created_at)).all()))
    wanted = list(facts.created)

    def only(column: InstrumentedAttribute[str]) -> list[ColumnElement[bool]]:
        return [column.in_(wanted)] if ids is not None else []

    loans = select(LoanRow.borrower_id, func.max(LoanRow.updated_at)).where(*only(LoanRow.borrower_id)).group_by(LoanRow.borrower_id)
    facts.last_loan = dict(session.execute(loans).all())
    unpaid = select(LoanRow.borrower_id).where(LoanRow.status != "paid_off", *only(LoanRow.borrower_id)).distinct()
    facts.open_loans = set(session.scalars(unpaid))
    consents = (
        select(ConsentRow.subject_id, ConsentRow.purpose, ConsentRow.action, ConsentRow.recorded_at)
        .where(ConsentRow.kind == "purpose", *only(ConsentRow.subject_id))
        .order_by(ConsentRow.id)
    )
    for subject_id, purpose, action, at in session.execute(consents):
        key = (subject_id, purpose)
        facts.consent_time[key] = max(at, facts.consent_time.get(key, at))
        if action != "prompt":  # prompts are not decisions (consent.gate.latest)
            facts.consent_action[key] = action
    requests = select(RightsRequestRow.subject_id, RightsRequestRow.id, RightsRequestRow.status, RightsRequestRow.closed_at).where(
        *only(RightsRequestRow.subject_id)
    )
    for subject_id, request_id, status, closed_at in session.execute(requests):
        if status in (*svc.OPEN_STATUSES, "held"):
            facts.open_requests.setdefault(subject_id, set()).add(request_id)
        if closed_at is not None:
            facts.last_closed[subject_id] = max(closed_at, facts.last_closed.get(subject_id, closed_at))
    return facts


def _needing(rt: Runtime, facts: _Facts, subject_id: str, now: dt.datetime, excluding_request: str | None) -> list[str]:
    created = facts.created[subject_id]
    requests = facts.open_requests.get(subject_id, set()) - {excluding_request}
    needed = []
    for purpose in rt.policy.purposes.by_id.values():
        key = (subject_id, purpose.id)
        if purpose.needs_consent:
            in_force = facts.consent_action.get(key) == "grant"
        elif purpose.id == "rights_request":
            in_force = bool(requests)
        else:
            in_force = subject_id in facts.open_loans
        last = max(created, facts.last_loan.get(subject_id, created), facts.consent_time.get(key, created))
        if purpose.id == "rights_request":
            last = max(last, facts.last_closed.get(subject_id, created))
        if in_force or now < last + dt.timedelta(days=purpose.retention_days):
            needed.append(purpose.id)
    return sorted(needed)


def purposes_needing(
    session: Session, rt: Runtime, subject_id: str, now: dt.datetime, *, excluding_request: str | None = None
) -> list[str]:
    """The purposes that still need this person's data at ``now`` (empty: erase).

    In force: a consent-based purpose whose consent is granted; ``rights_request`` while a
    request is open or held (``excluding_request``, the deletion being decided, does not count);
    any other purpose while a loan is unpaid. After that, each purpose keeps the data for its
    ``retention_days`` from the last time it applied.
    """
    facts = _facts(session, [subject_id])
    if subject_id not in facts.created:
        return []
    return _needing(rt, facts, subject_id, now, excluding_request)


def plan(session: Session, rt: Runtime) -> list[Action]:
    """What a sweep would do now, without doing it."""
    now = rt.clock.now()
    r = svc.rules(rt)
    actions: list[Action] = []
    for row in session.scalars(select(RightsRequestRow).where(RightsRequestRow.status == "held", RightsRequestRow.type == "deletion")):
        if holds.deletion_blocker(session, rt, row.subject_id) is None:
            actions.append(Action("finish_held_deletion", row.id, "the legal hold that postponed this deletion has ended"))
    pending = {a.target for a in actions}
    facts = _facts(session, None)
    for subject_id in facts.created:
        if _needing(rt, facts, subject_id, now, None):
            continue
        hold = holds.deletion_blocker(session, rt, subject_id)
        if hold is not None:
            ends = hold.ends_on.isoformat() if hold.ends_on else "it is lifted"
            actions.append(
                Action("keep_held", subject_id, f"no purpose needs the data, but a legal hold keeps it (storage only) until {ends}")
            )
        elif subject_id not in pending:
            actions.append(Action("erase", subject_id, "no purpose needs the data any more (PIPL Arts. 19, 47)"))
    package_cutoff = now - dt.timedelta(days=r.package_days)
    for row in session.scalars(
        select(RightsRequestRow).where(RightsRequestRow.package.is_not(None), RightsRequestRow.closed_at < package_cutoff)
    ):
        actions.append(Action("drop_package", row.id, f"the copy was ready more than {r.package_days} days ago"))
    unverified_cutoff = now - dt.timedelta(days=r.unverified_days)
    for row in session.scalars(
        select(RightsRequestRow).where(RightsRequestRow.status == "unverified", RightsRequestRow.filed_at < unverified_cutoff)
    ):
        actions.append(Action("close_unverified", row.id, f"identity not verified within {r.unverified_days} days"))
    return actions


def _apply(session: Session, rt: Runtime, who: Principal, action: Action) -> None:
    from lendshield.rights.flows import erase

    if action.kind == "erase":
        erase(session, rt, who, action.target, ground=GROUND, request_id=None, reason="retention period expired (PIPL Arts. 19, 47)")
    elif action.kind == "finish_held_deletion":
        row = svc.load(session, action.target)
        erase(
            session,
            rt,
            who,
            row.subject_id,
            ground=row.params["ground"],
            request_id=row.id,
            reason=f"deletion request {row.id}: hold ended",
        )
        svc.answer(row, rt, "fulfilled", "the legal hold ended and your personal data was deleted (crypto-shredded)")
        svc.record(session, rt, who, "rights.fulfil", row, decision="deleted", details={"after_hold": True})
    elif action.kind == "drop_package":
        row = svc.load(session, action.target)
        row.package = None
        svc.record(session, rt, who, "rights.drop_package", row, reason=action.reason)
    elif action.kind == "close_unverified":
        row = svc.load(session, action.target)
        row.refusal_reason = f"the request was closed because identity was not verified: {action.reason} (PIPL Art. 50)"
        svc.answer(row, rt, "refused")
        svc.record(session, rt, who, "rights.refuse", row, decision="refused", reason=row.refusal_reason)


def sweep(session: Session, rt: Runtime, *, dry_run: bool, who: Principal = SYSTEM) -> SweepReport:
    """Plan and, unless ``dry_run``, carry out the retention sweep in the caller's transaction."""
    report = SweepReport(dry_run=dry_run, actions=plan(session, rt))
    if dry_run:
        return report
    for action in report.actions:
        _apply(session, rt, who, action)
    day_ago = rt.clock.now() - dt.timedelta(days=1)
    result = session.execute(delete(VerificationCodeRow).where(VerificationCodeRow.expires_at < day_ago))
    report.codes_removed = int(getattr(result, "rowcount", 0) or 0)
    counts = {k: report.count(k) for k in ("erase", "keep_held", "finish_held_deletion", "drop_package", "close_unverified")}
    ledger.append(
        session,
        ledger.Entry(
            time=rt.clock.now(),
            actor=who.id,
            action="retention.sweep",
            object="retention",
            details=counts | {"codes_removed": report.codes_removed},
        ),
    )
    return report


def sweep_job(rt: Runtime) -> SweepReport:
    """The job the runner calls (daily is enough): one transaction per sweep."""
    with rt.sessions() as session:
        report = sweep(session, rt, dry_run=False)
        session.commit()
    return report
