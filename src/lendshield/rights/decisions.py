"""Automated decisions and their explanation (PIPL Art. 24).

The lender's systems record each decision made by automated means: the categories of data it
used (never the values), the outcome and a summary of the logic. The person can read the
explanation and ask for a human review; a reviewer answers in writing.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from lendshield import ledger
from lendshield.errors import InvalidInput
from lendshield.principals import Principal
from lendshield.rights import service
from lendshield.rights.errors import DecisionNotFound, RightsForbidden
from lendshield.rights.models import AutomatedDecisionRow
from lendshield.runtime import Runtime
from lendshield.subjects import service as subjects


@dataclass(frozen=True, slots=True)
class DecisionView:
    id: str
    subject_id: str
    system: str
    decision_type: str
    outcome: str
    input_categories: list[str]
    logic_summary: str
    solely_automated: bool
    made_at: dt.datetime
    review_outcome: str | None
    reviewed_at: dt.datetime | None


def _view(row: AutomatedDecisionRow) -> DecisionView:
    return DecisionView(
        id=row.id,
        subject_id=row.subject_id,
        system=row.system,
        decision_type=row.decision_type,
        outcome=row.outcome,
        input_categories=list(row.input_categories),
        logic_summary=row.logic_summary,
        solely_automated=row.solely_automated,
        made_at=row.made_at,
        review_outcome=row.review_outcome,
        reviewed_at=row.reviewed_at,
    )


def record_decision(
    session: Session,
    rt: Runtime,
    who: Principal,
    subject_id: str,
    *,
    system: str,
    decision_type: str,
    outcome: str,
    input_categories: Sequence[str],
    logic_summary: str,
    solely_automated: bool = True,
    made_at: dt.datetime | None = None,
) -> DecisionView:
    """Record a decision made about a person by automated means (by the loan or risk system)."""
    if not who.roles & service.rules(rt).decision_roles:
        raise RightsForbidden("only the lender's systems and risk officers record automated decisions")
    unknown = sorted(set(input_categories) - set(rt.catalog.categories))
    if not input_categories or unknown:
        raise InvalidInput("input_categories: categories of the field catalog, at least one", path="input_categories")
    if len(logic_summary.strip()) < 20:
        raise InvalidInput("logic_summary: explain the logic in at least 20 characters (PIPL Art. 24)", path="logic_summary")
    if made_at is not None and (made_at.tzinfo is None or made_at > rt.clock.now()):
        raise InvalidInput("made_at: an aware time, not in the future", path="made_at")
    subjects.require_live(session, subject_id)
    row = AutomatedDecisionRow(
        id=str(uuid.uuid4()),
        subject_id=subject_id,
        system=system,
        decision_type=decision_type,
        outcome=outcome,
        input_categories=sorted(set(input_categories)),
        logic_summary=logic_summary.strip(),
        solely_automated=solely_automated,
        made_at=made_at or rt.clock.now(),
        recorded_by=who.id,
    )
    session.add(row)
    session.flush()
    ledger.append(
        session,
        ledger.Entry(
            time=rt.clock.now(),
            actor=who.id,
            action="rights.automated_decision",
            object=f"decision:{row.id}",
            subject_ref=ledger.subject_ref(rt.keys, subject_id),
            decision=decision_type,
            details={"system": system, "categories": row.input_categories, "solely_automated": solely_automated},
        ),
    )
    return _view(row)


def _may_read(session: Session, rt: Runtime, who: Principal, subject_id: str) -> None:
    if who.kind == "borrower":
        if service.own_subject(session, who) != subject_id:
            service.refuse_foreign(session, rt, who, subject_id, "rights.read_decisions")
        return
    r = service.rules(rt)
    if not who.roles & (r.read_roles | r.work_roles | r.review_roles | r.decision_roles):
        raise RightsForbidden("this role may not read automated decisions")


def decisions_for(session: Session, rt: Runtime, who: Principal, subject_id: str | None = None) -> list[DecisionView]:
    """A person's automated decisions with their explanations, newest first."""
    if who.kind == "borrower" and subject_id is None:
        subject_id = service.own_subject(session, who)
    if subject_id is None:
        raise InvalidInput("subject_id: required", path="subject_id")
    _may_read(session, rt, who, subject_id)
    rows = session.scalars(
        select(AutomatedDecisionRow).where(AutomatedDecisionRow.subject_id == subject_id).order_by(AutomatedDecisionRow.made_at.desc())
    )
    return [_view(r) for r in rows]


def explanation(session: Session, rt: Runtime, who: Principal, decision_id: str) -> DecisionView:
    """One decision's explanation, for its person and the staff who handle reviews."""
    row = session.get(AutomatedDecisionRow, decision_id) if len(decision_id) <= 36 else None
    if row is None:
        raise DecisionNotFound()
    _may_read(session, rt, who, row.subject_id)
    ledger.append(
        session,
        ledger.Entry(
            time=rt.clock.now(),
            actor=who.id,
            action="rights.explain",
            object=f"decision:{row.id}",
            subject_ref=ledger.subject_ref(rt.keys, row.subject_id),
        ),
    )
    return _view(row)


def set_review(session: Session, rt: Runtime, who: Principal, decision_id: str, outcome: str) -> None:
    """A human reviewer's written outcome (called when an explanation request is fulfilled)."""
    if not who.roles & service.rules(rt).review_roles:
        raise RightsForbidden("this role may not review automated decisions")
    row = session.get(AutomatedDecisionRow, decision_id)
    if row is None:
        raise DecisionNotFound()
    row.review_outcome = outcome
    row.reviewed_at = rt.clock.now()
