"""Rights requests (PIPL Arts. 44-50): filing, who may see them, the status machine, deadlines.

Status machine::

    unverified --(one-time code)--> open --(assign)--> in_progress --> fulfilled | refused
    (a borrower's own portal session counts as verified: filed straight to ``open``)
    a deletion blocked by a legal hold is answered and parked as ``held`` until the hold ends.

Every step writes a ledger entry in the caller's transaction. Refusal always carries a written
reason, shown to the person (Art. 50). Services never commit.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lendshield import ledger
from lendshield.accounts.models import AccountRow
from lendshield.crypto import constant_time_equal, keyed_digest
from lendshield.principals import Principal
from lendshield.rights import params as request_params
from lendshield.rights.config import RightsRules, rules_for
from lendshield.rights.errors import NotYourData, ReasonMissing, RequestNotFound, RightsForbidden, WrongState
from lendshield.rights.models import REQUEST_TYPES, STATUSES, AlertRow, RightsRequestRow
from lendshield.rights.workdays import Deadline, WorkCalendar
from lendshield.runtime import Runtime
from lendshield.subjects import service as subjects
from lendshield.subjects.records import open_record, seal_record

log = structlog.get_logger("lendshield.rights")
OPEN_STATUSES = ("unverified", "open", "in_progress")
ANSWERED_STATUSES = ("held", "fulfilled", "refused")
MIN_REASON = 10
IDEMPOTENCY_SECRET = "rights/idempotency"


@dataclass(frozen=True, slots=True)
class RequestView:
    """A request as its person and the officers see it (no sealed text)."""

    id: str
    subject_id: str
    type: str
    status: str
    channel: str
    filed_at: dt.datetime
    verified: bool
    owner_id: str | None
    due_on: dt.date
    original_due_on: dt.date
    extension_reason: str | None
    deadline_note: str | None
    params: dict[str, Any]
    outcome: str | None
    refusal_reason: str | None
    answered_at: dt.datetime | None
    has_package: bool


def rules(rt: Runtime) -> RightsRules:
    return rules_for(rt.settings.policies_dir)


def _note(years: Sequence[int]) -> str | None:
    if not years:
        return None
    listed = ", ".join(str(y) for y in years)
    return (
        f"estimated: no official holiday data for {listed}, counted by weekdays only; "
        f"the date may move when that year's arrangement is loaded"
    )


def view_of(row: RightsRequestRow) -> RequestView:
    return RequestView(
        id=row.id,
        subject_id=row.subject_id,
        type=row.type,
        status=row.status,
        channel=row.channel,
        filed_at=row.filed_at,
        verified=row.verified_at is not None,
        owner_id=row.owner_id,
        due_on=row.due_on,
        original_due_on=row.original_due_on,
        extension_reason=row.extension_reason,
        deadline_note=_note(row.deadline_estimated_years),
        params=dict(row.params),
        outcome=row.outcome,
        refusal_reason=row.refusal_reason,
        answered_at=row.answered_at,
        has_package=row.package is not None,
    )


def calendar_for(rt: Runtime, jurisdiction: str) -> WorkCalendar:
    r = rules(rt)
    return WorkCalendar(r.jurisdictions[jurisdiction].calendar, r.years)


def local_date(rt: Runtime, jurisdiction: str, when: dt.datetime) -> dt.date:
    return when.astimezone(ZoneInfo(rules(rt).jurisdictions[jurisdiction].timezone)).date()


def deadline_for(rt: Runtime, jurisdiction: str, request_type: str, filed_at: dt.datetime) -> Deadline:
    """The due date: the configured number of working days after the day of receipt."""
    days = rules(rt).jurisdictions[jurisdiction].days_for(request_type)
    return calendar_for(rt, jurisdiction).add_working_days(local_date(rt, jurisdiction, filed_at), days)


def own_subject(session: Session, who: Principal) -> str | None:
    """The data subject behind a borrower's portal principal (its id is the account id)."""
    if who.kind != "borrower" or "borrower" not in who.roles:
        return None
    return session.scalar(select(AccountRow.subject_id).where(AccountRow.id == who.id, AccountRow.kind == "borrower"))


def _entry(
    rt: Runtime,
    who: Principal,
    action: str,
    row: RightsRequestRow | None,
    subject_id: str,
    *,
    decision: str | None = None,
    rule_id: str | None = None,
    reason: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> ledger.Entry:
    return ledger.Entry(
        time=rt.clock.now(),
        actor=who.id,
        action=action,
        object=f"rights_request:{row.id}" if row is not None else "rights_request",
        subject_ref=ledger.subject_ref(rt.keys, subject_id),
        purpose="rights_request",
        decision=decision,
        rule_id=rule_id,
        reason=reason,
        details=dict(details or {}),
    )


def record(session: Session, rt: Runtime, who: Principal, action: str, row: RightsRequestRow, **kw: Any) -> int:
    """Write one step of a request to the ledger (other modules of this package use it too)."""
    return ledger.append(session, _entry(rt, who, action, row, row.subject_id, **kw))


def record_raw(session: Session, rt: Runtime, who: Principal, action: str, subject_id: str, **kw: Any) -> int:
    """A ledger entry about a person outside any one request (a tombstone, a sweep)."""
    return ledger.append(session, _entry(rt, who, action, None, subject_id, **kw))


def refuse_foreign(session: Session, rt: Runtime, who: Principal, subject_id: str, action: str, request_id: str | None = None) -> None:
    """Log an attempt on someone else's data (it shows in that person's own bundle), then refuse."""
    details = {"request_id": request_id} if request_id else {}
    ledger.append(session, _entry(rt, who, action, None, subject_id, decision="deny", rule_id="not-own-data", details=details))
    raise NotYourData()


def file_request(
    session: Session,
    rt: Runtime,
    who: Principal,
    *,
    request_type: str,
    subject_id: str | None = None,
    params: Mapping[str, Any] | None = None,
    text: str | None = None,
    new_value: str | None = None,
    jurisdiction: str | None = None,
    idempotency_key: str | None = None,
) -> RequestView:
    """File a request. A borrower files about themselves only (their portal session verifies them);
    staff in ``file_roles`` file on a person's behalf, and the person then proves who they are
    with a one-time code (``verification.send_code`` / ``confirm_code``).

    ``text`` (a report, the evidence for a correction, a reason) and ``new_value`` are sealed
    under the person's key; ``params`` holds only non-personal choices (see ``rights.params``).
    """
    r = rules(rt)
    if request_type not in REQUEST_TYPES:
        raise request_params.invalid("type", f"must be one of {', '.join(REQUEST_TYPES)}")
    own = own_subject(session, who)
    if who.kind == "borrower":
        if own is None:
            raise RightsForbidden("this portal account is not linked to a person")
        if subject_id is not None and subject_id != own:
            refuse_foreign(session, rt, who, subject_id, "rights.file")
        subject_id, channel = own, "portal"
    elif who.roles & r.file_roles:
        if not subject_id:
            raise request_params.invalid("subject_id", "staff must name the person the request is for")
        channel = "staff"
    else:
        raise RightsForbidden("this role may not file rights requests")
    subjects.require_live(session, subject_id)
    code = jurisdiction or r.default_jurisdiction
    if code not in r.jurisdictions:
        raise request_params.invalid("jurisdiction", f"must be one of {', '.join(sorted(r.jurisdictions))}")
    clean = request_params.check(session, rt, request_type, subject_id, dict(params or {}), text, new_value)
    body = [request_type, subject_id, code, clean, text or "", new_value or ""]
    digest = keyed_digest(rt.keys.secret(IDEMPOTENCY_SECRET), json.dumps(body, ensure_ascii=False, sort_keys=True))
    if idempotency_key is not None:
        if not 1 <= len(idempotency_key) <= 128:
            raise request_params.invalid("Idempotency-Key", "1 to 128 characters")
        earlier = session.scalar(
            select(RightsRequestRow).where(RightsRequestRow.filed_by == who.id, RightsRequestRow.idempotency_key == idempotency_key)
        )
        if earlier is not None:
            if earlier.body_digest is None or not constant_time_equal(earlier.body_digest, digest):
                raise WrongState("this Idempotency-Key was used for a different request")
            return view_of(earlier)
    now = rt.clock.now()
    deadline = deadline_for(rt, code, request_type, now)
    row = RightsRequestRow(
        id=str(uuid.uuid4()),
        subject_id=subject_id,
        type=request_type,
        status="open" if channel == "portal" else "unverified",
        channel=channel,
        filed_by=who.id,
        filed_at=now,
        jurisdiction=code,
        verified_at=now if channel == "portal" else None,
        verified_by="session" if channel == "portal" else None,
        owner_id=None,
        due_on=deadline.due,
        original_due_on=deadline.due,
        deadline_estimated_years=list(deadline.estimated_years),
        params=clean,
        sealed=None,
        idempotency_key=idempotency_key,
        body_digest=digest,
    )
    session.add(row)
    session.flush()
    personal = {k: v for k, v in (("text", text), ("new_value", new_value)) if v}
    if personal:
        row.sealed = seal_record(session, rt, subject_id, f"rights:{row.id}", json.dumps(personal, ensure_ascii=False).encode())
    record(
        session,
        rt,
        who,
        "rights.file",
        row,
        decision=row.status,
        details={"type": request_type, "channel": channel, "due_on": deadline.due.isoformat(), "params": clean},
    )
    if deadline.estimated_years:
        warn_missing_calendar(session, rt, row, deadline.estimated_years)
    if request_type == "withdrawal" and channel == "portal":
        # PIPL Art. 15: withdrawing is as easy as consenting, and takes effect at once.
        from lendshield.rights.flows import withdraw

        withdraw(session, rt, who, row)
    if request_type == "report":
        # MISSION R8: a suspected leak or abuse goes straight to the protection officer's alerts.
        category = clean["category"]
        session.add(
            AlertRow(
                kind="new_report",
                request_id=row.id,
                message=f"new report ({category}) to answer by {deadline.due.isoformat()}",
                created_at=now,
            )
        )
        log.warning("rights_report_filed", request_id=row.id, category=category)
    return view_of(row)


def warn_missing_calendar(session: Session, rt: Runtime, row: RightsRequestRow, years: Sequence[int]) -> None:
    listed = ", ".join(str(y) for y in years)
    log.warning("rights_calendar_missing", request_id=row.id, years=listed)
    session.add(
        AlertRow(
            kind="calendar_missing",
            request_id=row.id,
            message=f"no official holiday data for {listed}: load it into holidays.yaml; deadline {row.due_on} is estimated",
            created_at=rt.clock.now(),
        )
    )


def load(session: Session, request_id: str) -> RightsRequestRow:
    row = session.get(RightsRequestRow, request_id) if len(request_id) <= 36 else None
    if row is None:
        raise RequestNotFound()
    return row


def load_for(session: Session, rt: Runtime, who: Principal, request_id: str, *, action: str) -> RightsRequestRow:
    """The request if ``who`` may see it: its own person, or officers in ``read_roles``/``work_roles``."""
    row = load(session, request_id)
    r = rules(rt)
    if who.kind == "borrower":
        if own_subject(session, who) != row.subject_id:
            refuse_foreign(session, rt, who, row.subject_id, action, request_id)
        return row
    if not who.roles & (r.read_roles | r.work_roles | r.file_roles):
        raise RightsForbidden("this role may not see rights requests")
    return row


def get_request(session: Session, rt: Runtime, who: Principal, request_id: str) -> RequestView:
    """One request, for its own person or staff who work requests."""
    return view_of(load_for(session, rt, who, request_id, action="rights.read"))


def personal_text(session: Session, rt: Runtime, who: Principal, request_id: str) -> dict[str, str]:
    """The sealed text of a request (a report, evidence, the new value) for its person and the officers."""
    row = load_for(session, rt, who, request_id, action="rights.read_text")
    if who.kind != "borrower" and not who.roles & rules(rt).work_roles:
        raise RightsForbidden("only the protection officer reads what the person wrote")
    if row.sealed is None:
        return {}
    record(session, rt, who, "rights.read_text", row, reason="handling the request")
    data: dict[str, str] = json.loads(open_record(session, rt, row.subject_id, f"rights:{row.id}", row.sealed))
    return data


def list_requests_for_subject(session: Session, rt: Runtime, who: Principal, subject_id: str | None = None) -> list[RequestView]:
    """A person's requests, newest first. Borrowers get their own (``subject_id`` may be omitted)."""
    if who.kind == "borrower":
        own = own_subject(session, who)
        if own is None or (subject_id is not None and subject_id != own):
            refuse_foreign(session, rt, who, subject_id or "unknown", "rights.list")
        subject_id = own
    elif not who.roles & (rules(rt).read_roles | rules(rt).work_roles | rules(rt).file_roles):
        raise RightsForbidden("this role may not see rights requests")
    if not subject_id:
        raise request_params.invalid("subject_id", "required")
    rows = session.scalars(
        select(RightsRequestRow).where(RightsRequestRow.subject_id == subject_id).order_by(RightsRequestRow.filed_at.desc())
    )
    return [view_of(r) for r in rows]


def queue(session: Session, rt: Runtime, who: Principal, *, status: str | None = None, limit: int = 200) -> list[RequestView]:
    """Open work for the officers, soonest deadline first (``status`` narrows it)."""
    if not who.roles & (rules(rt).read_roles | rules(rt).work_roles):
        raise RightsForbidden("this role may not see the rights queue")
    if status is not None and status not in STATUSES:
        raise request_params.invalid("status", f"must be one of {', '.join(STATUSES)}")
    stmt = select(RightsRequestRow)
    stmt = stmt.where(RightsRequestRow.status == status) if status else stmt.where(RightsRequestRow.status.in_(OPEN_STATUSES))
    rows = session.scalars(stmt.order_by(RightsRequestRow.due_on, RightsRequestRow.filed_at).limit(limit))
    return [view_of(r) for r in rows]


def require_worker(rt: Runtime, who: Principal) -> None:
    if not who.roles & rules(rt).work_roles:
        raise RightsForbidden("only the protection officer works rights requests")


def require_reason(reason: str | None, what: str) -> str:
    text = (reason or "").strip()
    if len(text) < MIN_REASON:
        raise ReasonMissing(f"{what} needs a written reason of at least {MIN_REASON} characters")
    return text


def assign(session: Session, rt: Runtime, who: Principal, request_id: str, owner_id: str | None = None) -> RequestView:
    """Give the request an owner (default: the caller) and start work on it."""
    require_worker(rt, who)
    row = load(session, request_id)
    if row.status not in ("open", "in_progress"):
        raise WrongState(f"a request that is {row.status} cannot be assigned")
    row.owner_id = owner_id or who.id
    row.status = "in_progress"
    record(session, rt, who, "rights.assign", row, details={"owner": row.owner_id})
    return view_of(row)


def extend(session: Session, rt: Runtime, who: Principal, request_id: str, *, working_days: int, reason: str) -> RequestView:
    """Extend the deadline once, by at most the jurisdiction's ``max_extension_days``, with a reason told to the person."""
    require_worker(rt, who)
    text = require_reason(reason, "an extension")
    row = load(session, request_id)
    if row.status not in OPEN_STATUSES:
        raise WrongState(f"a request that is {row.status} cannot be extended")
    if row.extension_reason is not None:
        raise WrongState("the deadline was extended once already")
    limit = rules(rt).jurisdictions[row.jurisdiction].max_extension_days
    if not 1 <= working_days <= limit:
        raise request_params.invalid("working_days", f"must be 1 to {limit}")
    deadline = calendar_for(rt, row.jurisdiction).add_working_days(row.original_due_on, working_days)
    row.due_on = deadline.due
    row.extension_reason = text
    row.deadline_estimated_years = sorted(set(row.deadline_estimated_years) | set(deadline.estimated_years))
    record(session, rt, who, "rights.extend", row, reason=text, details={"due_on": row.due_on.isoformat(), "working_days": working_days})
    if deadline.estimated_years:
        warn_missing_calendar(session, rt, row, deadline.estimated_years)
    return view_of(row)


def answer(row: RightsRequestRow, rt: Runtime, status: str, outcome: str | None = None) -> None:
    """Move to an answered status; the first answer is what the on-time rate counts."""
    now = rt.clock.now()
    row.status = status
    row.outcome = outcome
    if row.answered_at is None:
        row.answered_at = now
    if status in ("fulfilled", "refused"):
        row.closed_at = now


def refuse(session: Session, rt: Runtime, who: Principal, request_id: str, *, reason: str) -> RequestView:
    """Refuse with a written reason; the person sees it on the request (PIPL Art. 50)."""
    require_worker(rt, who)
    text = require_reason(reason, "a refusal")
    row = load(session, request_id)
    if row.status not in (*OPEN_STATUSES, "held"):
        raise WrongState(f"a request that is {row.status} cannot be refused")
    row.refusal_reason = text
    answer(row, rt, "refused")
    record(session, rt, who, "rights.refuse", row, decision="refused", reason=text)
    return view_of(row)


def open_request_blockers(session: Session, borrower_id: str, *, today: dt.date | None = None) -> list[str]:
    """One sentence per open request or restriction that must stop devices and collection acting
    on this borrower's loans (no personal data). Empty when nothing blocks. ``today`` defaults
    to the current UTC date (pass ``rt.clock.now().date()``)."""
    from lendshield.rights.holds import active_holds

    out = []
    rows = session.scalars(
        select(RightsRequestRow)
        .where(RightsRequestRow.subject_id == borrower_id, RightsRequestRow.status.in_(OPEN_STATUSES))
        .order_by(RightsRequestRow.due_on)
    )
    for row in rows:
        article = "an" if row.type[0] in "aeiou" else "a"
        pending = ", identity not yet verified" if row.status == "unverified" else ""
        out.append(f"{article} {row.type} request is open (due {row.due_on.isoformat()}{pending})")
    for hold in active_holds(session, borrower_id, today):
        until = f" until {hold.ends_on.isoformat()}" if hold.ends_on else ""
        what = "a legal hold" if hold.kind == "legal_hold" else "a restriction the person asked for"
        out.append(f"the data is restricted to storage only by {what}{until}")
    return out


@dataclass(frozen=True, slots=True)
class OnTimeRate:
    answered: int
    on_time: int
    late: int
    open_overdue: int

    @property
    def rate(self) -> float | None:
        return self.on_time / self.answered if self.answered else None


def on_time_rate(session: Session, rt: Runtime, start: dt.date, end: dt.date) -> OnTimeRate:
    """For requests filed from ``start`` to ``end`` (inclusive, UTC dates): how many were answered
    by their due date (local date of the answer <= due date), and how many open ones are overdue."""
    lo = dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC)
    hi = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    rows = session.scalars(select(RightsRequestRow).where(RightsRequestRow.filed_at >= lo, RightsRequestRow.filed_at < hi))
    answered = on_time = overdue = 0
    for row in rows:
        if row.answered_at is not None:
            answered += 1
            on_time += local_date(rt, row.jurisdiction, row.answered_at) <= row.due_on
        elif local_date(rt, row.jurisdiction, rt.clock.now()) > row.due_on:
            overdue += 1
    return OnTimeRate(answered=answered, on_time=on_time, late=answered - on_time, open_overdue=overdue)


def count_open(session: Session) -> int:
    return int(session.scalar(select(func.count()).where(RightsRequestRow.status.in_(OPEN_STATUSES))) or 0)
