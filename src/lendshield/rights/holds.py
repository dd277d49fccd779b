"""Legal holds and restrictions: data kept for storage and security only (PIPL Art. 47, second
paragraph; Art. 44, the right to restrict processing).

``restriction_for`` is the check the gate calls before it lets a purpose read a person's data;
``deletion_blocker`` is what deletion and the retention sweeper consult.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import Session

from lendshield import ledger
from lendshield.errors import InvalidInput, NotFound
from lendshield.ledger.prepared import Prepared
from lendshield.principals import Principal
from lendshield.rights import service
from lendshield.rights.models import HoldRow
from lendshield.runtime import Runtime
from lendshield.subjects import service as subjects


def active_holds(session: Session, subject_id: str, on: dt.date | None, kind: str | None = None) -> list[HoldRow]:
    """Holds in force for ``subject_id`` on ``on`` (today's UTC date when None)."""
    day = on or dt.datetime.now(dt.UTC).date()
    stmt = select(HoldRow).where(
        HoldRow.subject_id == subject_id, HoldRow.lifted_at.is_(None), or_(HoldRow.ends_on.is_(None), HoldRow.ends_on >= day)
    )
    if kind is not None:
        stmt = stmt.where(HoldRow.kind == kind)
    return list(session.scalars(stmt.order_by(HoldRow.created_at)))


_IN_FORCE = Prepared(
    select(HoldRow.kind, HoldRow.ends_on)
    .where(
        HoldRow.subject_id == bindparam("sid"),
        HoldRow.lifted_at.is_(None),
        or_(HoldRow.ends_on.is_(None), HoldRow.ends_on >= bindparam("day")),
    )
    .order_by(HoldRow.created_at)
    .limit(1)
)


def restriction_for(session: Session, rt: Runtime, subject_id: str, purpose: str | None) -> str | None:
    """Why ``purpose`` may not process this person's data now, or None when it may.

    While a hold is in force only the purposes in ``restricted_purposes_allowed`` (handling the
    person's own requests) may read; everything else is storage only. On every gated read: one
    precompiled statement on the session's cursor (``ledger.prepared``), no ORM objects.
    """
    # The hold first: almost nobody is restricted, and the rules file is only needed when they are.
    rows = _IN_FORCE.run(session, {"sid": subject_id, "day": rt.clock.now().date()})
    if not rows or purpose in service.rules(rt).restricted_purposes_allowed:
        return None
    kind, ends_on = rows[0]
    until = f" until {ends_on}" if ends_on else ""  # a date on PostgreSQL, its ISO text on SQLite
    what = "a legal hold" if kind == "legal_hold" else "the person's restriction request"
    return f"restricted to storage only by {what}{until} (PIPL Arts. 44, 47)"


def deletion_blocker(session: Session, rt: Runtime, subject_id: str) -> HoldRow | None:
    holds = active_holds(session, subject_id, rt.clock.now().date(), kind="legal_hold")
    return holds[0] if holds else None


def place(
    session: Session,
    rt: Runtime,
    who: Principal,
    subject_id: str,
    *,
    kind: str,
    reason: str,
    ends_on: dt.date | None,
    request_id: str | None = None,
) -> HoldRow:
    """Place a legal hold (``ends_on`` required: the law says how long) or a restriction."""
    service.require_worker(rt, who)
    text = service.require_reason(reason, "a hold")
    if kind not in ("legal_hold", "restriction"):
        raise InvalidInput("kind: must be legal_hold or restriction", path="kind")
    if kind == "legal_hold" and ends_on is None:
        raise InvalidInput("ends_on: a legal hold needs the date the legal duty to keep the data ends", path="ends_on")
    if ends_on is not None and ends_on <= rt.clock.now().date():
        raise InvalidInput("ends_on: must be in the future", path="ends_on")
    subjects.require_live(session, subject_id)
    row = HoldRow(
        id=str(uuid.uuid4()),
        subject_id=subject_id,
        kind=kind,
        reason=text,
        ends_on=ends_on,
        request_id=request_id,
        created_by=who.id,
        created_at=rt.clock.now(),
    )
    session.add(row)
    session.flush()
    ledger.append(
        session,
        ledger.Entry(
            time=rt.clock.now(),
            actor=who.id,
            action=f"rights.{kind}",
            object=f"hold:{row.id}",
            subject_ref=ledger.subject_ref(rt.keys, subject_id),
            reason=text,
            details={"ends_on": ends_on.isoformat() if ends_on else None, "request_id": request_id},
        ),
    )
    return row


def lift(session: Session, rt: Runtime, who: Principal, hold_id: str, *, reason: str) -> HoldRow:
    """End a hold early (the legal duty ended, or the person lifted their restriction)."""
    service.require_worker(rt, who)
    text = service.require_reason(reason, "lifting a hold")
    row = session.get(HoldRow, hold_id) if len(hold_id) <= 36 else None
    if row is None or row.lifted_at is not None:
        raise NotFound("no such hold in force")
    row.lifted_at = rt.clock.now()
    row.lifted_by = who.id
    ledger.append(
        session,
        ledger.Entry(
            time=rt.clock.now(),
            actor=who.id,
            action="rights.lift_hold",
            object=f"hold:{row.id}",
            subject_ref=ledger.subject_ref(rt.keys, row.subject_id),
            reason=text,
        ),
    )
    return row


def holds_of(session: Session, subject_id: str) -> list[HoldRow]:
    return list(session.scalars(select(HoldRow).where(HoldRow.subject_id == subject_id).order_by(HoldRow.created_at)))
