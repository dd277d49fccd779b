"""The collection guard: every contact a collector asks for passes here, allowed or refused.

Order of checks (the first that fails wins, and is recorded as a blocked contact with its rule
id): the collector is assigned to the loan and the loan is overdue; collection is not paused by
an open complaint, dispute or rights request; the person may be contacted at all (debtor,
guarantor, or an emergency contact only once the debtor is unreachable, and never after they
refused); the borrower's channel preference; the hours and frequency rules of the preset; then
message screening. Only then does the adapter bridge the call or send the message, with a
verification code the person can check (anti-impersonation). Seed: 催收人员…企图通过公开使用者的
个人信息来威胁 (R9); 电话录音、催收记录等来留下证据 (R11).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from lendshield import ledger
from lendshield.collection import delivery, verification
from lendshield.collection.adapter import ContactAdapter, new_id
from lendshield.collection.errors import ContactBlocked, ContactNotFound, MessageScreened, NotCollector
from lendshield.collection.models import ComplaintRow, ContactRow, PreferenceRow, RefusalRow
from lendshield.collection.rules import Attempt, Blocked, Channel, CollectionRules, Past, TargetRole, evaluate, load_rules
from lendshield.collection.screening import Audience, Hit, load_screener
from lendshield.errors import Forbidden, InvalidInput, NotFound
from lendshield.loans.models import LoanRow
from lendshield.principals import Principal
from lendshield.runtime import Runtime
from lendshield.subjects import records
from lendshield.subjects import service as subjects

CONTACT_ROLES = frozenset({"collector"})
OVERSIGHT_ROLES = frozenset({"collection_supervisor", "protection_officer", "auditor"})
GUARANTOR_RELATIONS = frozenset({"guarantor", "担保人", "保证人"})
MAX_TEXT = 1000
PURPOSE = "collection"  # the purpose contacts are opened for (the policy's purpose id)


@lru_cache(maxsize=8)
def _rules_cached(path: Path, mtime_ns: int) -> CollectionRules:
    return load_rules(path.parent)


def rules(rt: Runtime) -> CollectionRules:
    path = rt.settings.policies_dir / "collection.yaml"
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        mtime = 0
    return _rules_cached(path, mtime)


@dataclass(frozen=True, slots=True)
class Target:
    id: str
    role: TargetRole
    relation: str


@dataclass(frozen=True, slots=True)
class ContactResult:
    id: str
    outcome: str
    masked_to: str
    verification_code: str | None
    text_sha256: str | None
    ledger_seq: int


def loan_for_contact(session: Session, who: Principal, loan_id: str) -> LoanRow:
    loan = session.get(LoanRow, loan_id) if len(loan_id) <= 64 else None
    if loan is None:
        raise NotFound("no such loan")
    if not who.roles & CONTACT_ROLES:
        raise NotCollector("only a collector may contact borrowers")
    return loan


def _role(relation: str) -> TargetRole:
    return "guarantor" if relation.strip().lower() in GUARANTOR_RELATIONS else "third_party"


def targets(session: Session, rt: Runtime, loan: LoanRow, *, who: Principal) -> list[Target]:
    """Who may be contacted about a loan, at most: the debtor, guarantors, emergency contacts.

    The contacts' relations are opened for ``who`` (one ``subject.relations`` ledger entry on
    the borrower's timeline, purpose ``collection``)."""
    out = [Target(loan.borrower_id, "debtor", "本人")]
    for contact_id, relation in subjects.contacts_of(session, rt, loan.borrower_id, who=who, purpose=PURPOSE):
        out.append(Target(contact_id, _role(relation), relation))
    return out


def _target(session: Session, rt: Runtime, who: Principal, loan: LoanRow, target_id: str | None) -> Target:
    """The one target asked for; only that contact's relation is opened (none for the debtor)."""
    wanted = target_id or loan.borrower_id
    if wanted == loan.borrower_id:
        return Target(loan.borrower_id, "debtor", "本人")
    relation = subjects.relation_of(session, rt, loan.borrower_id, wanted, who=who, purpose=PURPOSE)
    if relation is None:
        raise InvalidInput("target_id: not the borrower or one of the borrower's linked contacts", path="target_id")
    return Target(wanted, _role(relation), relation)


def history(session: Session, borrower_id: str) -> list[Past]:
    rows = session.execute(
        select(
            ContactRow.created_at, ContactRow.loan_id, ContactRow.channel, ContactRow.target_id, ContactRow.target_role, ContactRow.outcome
        )
        .where(ContactRow.borrower_id == borrower_id, ContactRow.outcome != "blocked")
        .order_by(ContactRow.created_at)
    ).all()
    return [Past(r.created_at, r.loan_id, r.channel, r.target_id, r.target_role, r.outcome) for r in rows]


def pauses(session: Session, rt: Runtime, loan: LoanRow, rule_set: CollectionRules) -> Blocked | None:
    """An open complaint or dispute about the loan, or an open rights request of the borrower."""
    open_rows = session.scalars(
        select(ComplaintRow.kind).where(ComplaintRow.loan_id == loan.id, ComplaintRow.status == "open").order_by(ComplaintRow.opened_at)
    ).all()
    common = rule_set.common
    if "dispute" in open_rows:
        return Blocked(common.pause_dispute, "the borrower disputes this debt; collection is paused until it is resolved")
    if open_rows:
        return Blocked(
            common.pause_complaint, "a complaint about collection on this loan is open; collection is paused until it is resolved"
        )
    from lendshield.rights.service import open_request_blockers

    for reason in open_request_blockers(session, loan.borrower_id, today=rt.clock.now().date()):
        return Blocked(common.pause_rights, reason)
    return None


def blockers_for_loan(session: Session, loan_id: str) -> list[str]:
    """For the device preconditions: open complaints and disputes also stop a lock (R14)."""
    kinds = session.scalars(select(ComplaintRow.kind).where(ComplaintRow.loan_id == loan_id, ComplaintRow.status == "open")).all()
    return [f"an open {kind} about collection on this loan" for kind in sorted(set(kinds))]


def _preference(session: Session, loan: LoanRow, target: Target, channel: str, rule_set: CollectionRules) -> Blocked | None:
    if target.role != "debtor":
        return None
    pref = session.get(PreferenceRow, loan.borrower_id)
    if pref is None or channel in pref.channels:
        return None
    return Blocked(
        rule_set.common.channel_preference, f"the borrower asked to be contacted only by {', '.join(pref.channels) or 'no channel'}"
    )


def _gatekeeping(session: Session, who: Principal, loan: LoanRow, rule_set: CollectionRules) -> Blocked | None:
    common = rule_set.common
    if loan.assigned_collector_id != who.id:
        return Blocked(common.not_assigned, "this loan is not assigned to you")
    if loan.status != "overdue" or loan.overdue_days <= 0:
        return Blocked(common.not_collectable, f"the loan is {loan.status.replace('_', ' ')}, not overdue")
    return None


def _hit_dicts(hits: list[Hit]) -> list[dict[str, Any]]:
    return [{"rule_id": h.rule_id, "category": h.category, "start": h.start, "end": h.end} for h in hits]


def screen(rt: Runtime, text: str, audience: Audience) -> list[Hit]:
    return load_screener(rt.settings.policies_dir).screen(text, audience)


def _record(
    session: Session,
    rt: Runtime,
    who: Principal,
    loan: LoanRow,
    target: Target,
    channel: str,
    preset: str,
    *,
    outcome: str,
    text: str | None,
    blocked: Blocked | None = None,
    hits: list[Hit] | None = None,
    participants: list[str] | None = None,
    code: str | None = None,
    provider_ref: str | None = None,
    contact_id: str | None = None,
) -> ContactRow:
    now = rt.clock.now()
    cid = contact_id or new_id()
    sealed = records.seal_record(session, rt, loan.borrower_id, f"contact:{cid}", text.encode()) if text else None
    text_sha = hashlib.sha256(text.encode()).hexdigest() if text else None
    row = ContactRow(
        id=cid,
        loan_id=loan.id,
        borrower_id=loan.borrower_id,
        target_id=target.id,
        target_role=target.role,
        channel=channel,
        collector_id=who.id,
        participants=participants or [who.id],
        preset=preset,
        outcome=outcome,
        rule_id=blocked.rule_id if blocked else (hits[0].rule_id if hits else None),
        reason=blocked.reason if blocked else None,
        next_allowed_at=blocked.next_allowed_at if blocked else None,
        text_sealed=sealed,
        text_sha256=text_sha,
        code_digest=verification.digest(rt, code) if code else None,
        provider_ref=provider_ref,
        created_at=now,
    )
    session.add(row)
    session.flush()
    details: dict[str, Any] = {"channel": channel, "target_role": target.role, "outcome": outcome, "preset": preset}
    if text_sha:
        details["text_sha256"] = text_sha
    if hits:
        details["screening"] = [[h.rule_id, h.start, h.end] for h in hits]
    if participants:
        details["participants"] = sorted(participants)
    row.ledger_seq = ledger.append(
        session,
        ledger.Entry(
            time=now,
            actor=who.id,
            action="collection.contact" if outcome != "blocked" else "collection.contact_blocked",
            object=f"contact:{cid}",
            subject_ref=ledger.subject_ref(rt.keys, loan.borrower_id),
            purpose="collection",
            decision="allow" if outcome != "blocked" else "deny",
            rule_id=row.rule_id,
            reason=blocked.reason if blocked else None,
            details=details,
        ),
    )
    return row


def _refuse(
    session: Session,
    rt: Runtime,
    who: Principal,
    loan: LoanRow,
    target: Target,
    channel: str,
    preset: str,
    blocked: Blocked,
    text: str | None,
) -> None:
    row = _record(session, rt, who, loan, target, channel, preset, outcome="blocked", text=text, blocked=blocked)
    raise ContactBlocked(blocked.rule_id, blocked.reason, row.id, blocked.next_allowed_at)


def check_attempt(
    session: Session, rt: Runtime, who: Principal, loan: LoanRow, target: Target, channel: Channel, rule_set: CollectionRules
) -> tuple[str, Blocked | None]:
    """The preset in force and the first rule this attempt breaks (None when it may go ahead)."""
    preset_name, preset = rule_set.preset(rt.settings.collection_preset)
    blocked = (
        _gatekeeping(session, who, loan, rule_set)
        or pauses(session, rt, loan, rule_set)
        or _preference(session, loan, target, channel, rule_set)
    )
    if blocked is None:
        refused = frozenset(session.scalars(select(RefusalRow.target_id).where(RefusalRow.borrower_id == loan.borrower_id)).all())
        tz = ZoneInfo(subjects.timezone_of(session, target.id))
        attempt = Attempt(loan.id, channel, target.id, target.role, tz, rt.clock.now())
        blocked = evaluate(preset, attempt, history(session, loan.borrower_id), refused)
    return preset_name, blocked


def start_contact(
    session: Session,
    rt: Runtime,
    who: Principal,
    loan_id: str,
    *,
    channel: Channel,
    target_id: str | None = None,
    text: str | None = None,
    adapter: ContactAdapter | None = None,
) -> ContactResult:
    """Bridge a call or send a message for a collector, if every rule allows it."""
    loan = loan_for_contact(session, who, loan_id)
    if channel not in ("call", "sms"):
        raise InvalidInput("channel must be call or sms (field visits are recorded with /visits)", path="channel")
    if channel == "sms" and not (text and text.strip()):
        raise InvalidInput("text: a message needs text", path="text")
    if text is not None and len(text) > MAX_TEXT:
        raise InvalidInput(f"text: at most {MAX_TEXT} characters", path="text")
    target = _target(session, rt, who, loan, target_id)
    rule_set = rules(rt)
    preset_name, blocked = check_attempt(session, rt, who, loan, target, channel, rule_set)
    if blocked is not None:
        _refuse(session, rt, who, loan, target, channel, preset_name, blocked, text)
    if text:
        hits = screen(rt, text, "debtor" if target.role == "debtor" else "third_party")
        if hits:
            row = _record(session, rt, who, loan, target, channel, preset_name, outcome="blocked", text=text, hits=hits)
            raise MessageScreened(row.id, _hit_dicts(hits))
    code = verification.new_code()
    contact_id = new_id()
    reason = f"collection contact {contact_id}"
    if channel == "sms":
        assert text is not None
        full = verification.with_code(text, code)
        sent = delivery.send_message(session, rt, who, target.id, full, reason=reason, adapter=adapter, message_id=contact_id)
        outcome = "sent"
    else:
        full = None
        sent = delivery.bridge_call(session, rt, who, target.id, reason=reason, adapter=adapter, call_id=contact_id)
        outcome = "pending"
    row = _record(
        session,
        rt,
        who,
        loan,
        target,
        channel,
        preset_name,
        outcome=outcome,
        text=full,
        code=code,
        provider_ref=sent.delivery.provider_ref,
        contact_id=contact_id,
    )
    assert row.ledger_seq is not None
    return ContactResult(row.id, outcome, sent.masked_to, code if channel == "call" else None, row.text_sha256, row.ledger_seq)


def record_visit(session: Session, rt: Runtime, who: Principal, loan_id: str, *, participants: list[str], notes: str) -> ContactResult:
    """A field visit: at least two collectors present, each named (NIFA 2018: visits by two or more)."""
    from lendshield.principals import service as principals

    loan = loan_for_contact(session, who, loan_id)
    people = sorted(set(participants) | {who.id})
    if len(people) < 2:
        raise InvalidInput("participants: a field visit needs at least two collectors", path="participants")
    for pid in people:
        try:
            p = principals.get_principal(session, pid[:36])
        except Exception as exc:  # an unknown id, whatever the lookup raises
            raise InvalidInput("participants: unknown principal", path="participants") from exc
        if "collector" not in p.roles:
            raise InvalidInput("participants: every participant must be a collector", path="participants")
    if len(notes) > MAX_TEXT:
        raise InvalidInput(f"notes: at most {MAX_TEXT} characters", path="notes")
    target = _target(session, rt, who, loan, None)
    rule_set = rules(rt)
    preset_name, blocked = check_attempt(session, rt, who, loan, target, "visit", rule_set)
    if blocked is not None:
        _refuse(session, rt, who, loan, target, "visit", preset_name, blocked, notes or None)
    code = verification.new_code()
    row = _record(
        session, rt, who, loan, target, "visit", preset_name, outcome="visited", text=notes or None, participants=people, code=code
    )
    assert row.ledger_seq is not None
    return ContactResult(row.id, "visited", "", code, row.text_sha256, row.ledger_seq)


def get_contact(session: Session, contact_id: str) -> ContactRow:
    row = session.get(ContactRow, contact_id) if len(contact_id) <= 36 else None
    if row is None:
        raise ContactNotFound()
    return row


def may_see(who: Principal, row: ContactRow) -> bool:
    return bool(who.roles & OVERSIGHT_ROLES) or row.collector_id == who.id or who.id in row.participants


def record_refusal(session: Session, rt: Runtime, who: Principal, contact_id: str) -> None:
    """A third party told the collector not to contact them again: from now on the guard refuses."""
    row = get_contact(session, contact_id)
    if row.collector_id != who.id:
        raise Forbidden("only the collector who made the contact records a refusal")
    if row.target_role == "debtor":
        raise InvalidInput("a debtor's refusal is recorded as a channel preference or a complaint", path="contact_id")
    if session.get(RefusalRow, (row.target_id, row.borrower_id)) is None:
        session.add(
            RefusalRow(
                target_id=row.target_id, borrower_id=row.borrower_id, contact_id=row.id, recorded_by=who.id, recorded_at=rt.clock.now()
            )
        )
        session.flush()
        ledger.append(
            session,
            ledger.Entry(
                time=rt.clock.now(),
                actor=who.id,
                action="collection.third_party_refused",
                object=f"contact:{row.id}",
                subject_ref=ledger.subject_ref(rt.keys, row.borrower_id),
                details={"target_role": row.target_role},
            ),
        )


def set_preference(session: Session, rt: Runtime, who: Principal, borrower_id: str, channels: list[str]) -> list[str]:
    """The borrower (portal) or customer service on their behalf chooses the channels collection may use."""
    wanted = sorted(set(channels))
    if any(c not in ("call", "sms", "visit") for c in wanted):
        raise InvalidInput("channels: each must be call, sms or visit", path="channels")
    if not (who.roles & {"customer_service"} or _is_own(session, who, borrower_id)):
        raise Forbidden("only the borrower or customer service may set contact preferences")
    subjects.require_live(session, borrower_id)
    row = session.get(PreferenceRow, borrower_id)
    if row is None:
        session.add(PreferenceRow(borrower_id=borrower_id, channels=wanted, updated_at=rt.clock.now()))
    else:
        row.channels = wanted
        row.updated_at = rt.clock.now()
    ledger.append(
        session,
        ledger.Entry(
            time=rt.clock.now(),
            actor=who.id,
            action="collection.preference",
            object="subject-preferences",
            subject_ref=ledger.subject_ref(rt.keys, borrower_id),
            details={"channels": wanted},
        ),
    )
    return wanted


def _is_own(session: Session, who: Principal, subject_id: str) -> bool:
    if who.kind != "borrower" or "borrower" not in who.roles:
        return False
    from lendshield.accounts.models import AccountRow

    account = session.get(AccountRow, who.id)
    return account is not None and account.kind == "borrower" and account.subject_id == subject_id


def retention_until(rt: Runtime) -> timedelta:
    return timedelta(days=rt.settings.collection_retention_days)
