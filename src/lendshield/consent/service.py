"""Notices and the consent ledger. Services never commit; the caller's unit of work does.

PIPL: Art. 14 (informed, voluntary, explicit; again when the processing changes), Art. 15
(withdrawal, effective at once for the future), Art. 16 (refusing a non-necessary purpose never
blocks the service), Art. 17 (what a notice must say), Arts. 23/25/29/39 (separate consents),
Art. 31 (under 14: a guardian's consent).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lendshield import ledger
from lendshield.consent.errors import (
    ConsentNotApplicable,
    ConsentNotGiven,
    GuardianRequired,
    NoticeExists,
    NoticeIncomplete,
    PromptLimit,
    UnknownNotice,
    UnknownPurpose,
)
from lendshield.consent.gate import latest
from lendshield.consent.models import ConsentRow, NoticeRow
from lendshield.errors import Forbidden, InvalidInput
from lendshield.policy import Purpose, yamlfile
from lendshield.policy.facts import facts_for
from lendshield.principals import Principal
from lendshield.runtime import Runtime
from lendshield.subjects import service as subjects

# PIPL Art. 17 (1)-(4): identity and contact, purposes and methods, categories, retention,
# how to exercise rights; recipients (Art. 23) are told as well.
REQUIRED_SECTIONS = ("processor", "contact", "purposes", "methods", "categories", "retention", "rights", "recipients")
LANGUAGES = ("zh", "en")
HEADINGS = {
    "processor": ("个人信息处理者", "Who we are"),
    "contact": ("联系方式", "How to reach us"),
    "purposes": ("处理目的", "Why we process your data"),
    "methods": ("处理方式", "How we process it"),
    "categories": ("个人信息种类", "What data"),
    "retention": ("保存期限", "How long we keep it"),
    "rights": ("您的权利", "Your rights"),
    "recipients": ("接收方", "Who receives it"),
}
KINDS = ("purpose", "third_party", "public_disclosure", "sensitive", "cross_border")
ACTIONS = ("grant", "refuse", "withdraw", "prompt")
CHANNELS = ("app", "web", "paper", "phone", "branch", "staff")
NOTICE_ROLES = frozenset({"protection_officer"})
RECORD_ROLES = frozenset({"protection_officer", "customer_service", "loan_system"})
READ_ROLES = RECORD_ROLES | {"auditor"}
GUARDIAN_AGE = 14  # PIPL Art. 31


@dataclass(frozen=True, slots=True)
class NoticeDraft:
    version: str
    sections: Mapping[str, Mapping[str, str]]
    purpose_fields: Mapping[str, Sequence[str]]
    scope: str = "general"


@dataclass(frozen=True, slots=True)
class ConsentState:
    purpose: str
    kind: str
    action: str
    notice_version: str
    channel: str
    by_guardian: bool
    recorded_at: datetime
    evidence_sha256: str
    record_id: int


def _need(who: Principal, roles: frozenset[str], what: str) -> None:
    if not who.roles & roles:
        raise Forbidden(f"this role may not {what}")


def _need_own_or(session: Session, who: Principal, subject_id: str, roles: frozenset[str], what: str) -> None:
    """Staff by role; a borrower's portal account only for its own subject (PIPL Arts. 15, 45)."""
    if who.kind == "borrower" and who.has_role("borrower"):
        if "own_data" not in facts_for(session, who, subject_id, frozenset({"own_data"})):
            raise Forbidden(f"a borrower may {what} of their own only")
        return
    _need(who, roles, what)


def render(sections: Mapping[str, Mapping[str, str]], purpose_fields: Mapping[str, Sequence[str]], lang: int) -> str:
    """The exact text shown to the person in one language; this is what is stored and hashed."""
    parts = []
    for key in REQUIRED_SECTIONS:
        parts.append(f"## {HEADINGS[key][lang]}\n{sections[key][LANGUAGES[lang]].strip()}")
    lines = [f"- {p}: {', '.join(sorted(fs))}" for p, fs in sorted(purpose_fields.items())]
    parts.append(("## 各目的所需信息\n" if lang == 0 else "## Data each purpose uses\n") + "\n".join(lines))
    return "\n\n".join(parts) + "\n"


def notice_hash(text_zh: str, text_en: str) -> str:
    return hashlib.sha256(text_zh.encode() + b"\x00" + text_en.encode()).hexdigest()


def check_notice(rt: Runtime, draft: NoticeDraft) -> None:
    """Refuse a notice that does not tell everything PIPL Art. 17 requires, in both languages."""
    if not draft.version or len(draft.version) > 32 or not draft.version.replace("-", "").replace(".", "").isalnum():
        raise InvalidInput("version: 1 to 32 letters, digits, '-' or '.'", path="version")
    missing = []
    for key in REQUIRED_SECTIONS:
        section = draft.sections.get(key) or {}
        for lang in LANGUAGES:
            text = section.get(lang) if isinstance(section, Mapping) else None
            if not isinstance(text, str) or not text.strip():
                missing.append(f"{key}.{lang}")
    if missing:
        raise NoticeIncomplete(f"the notice lacks what PIPL Art. 17 requires: {', '.join(missing)}", missing=missing)
    if not draft.purpose_fields:
        raise NoticeIncomplete("the notice names no purpose (PIPL Art. 17(2))", missing=["purpose_fields"])
    for pid, fields in draft.purpose_fields.items():
        if pid not in rt.policy.purposes:
            raise UnknownPurpose(pid)
        for name in fields:
            rt.catalog.field(name, f"purpose_fields.{pid}")


def publish_notice(session: Session, rt: Runtime, who: Principal, draft: NoticeDraft) -> NoticeRow:
    _need(who, NOTICE_ROLES, "publish privacy notices")
    check_notice(rt, draft)
    if session.get(NoticeRow, draft.version) is not None:
        raise NoticeExists(draft.version)
    fields = {p: sorted(set(fs)) for p, fs in draft.purpose_fields.items()}
    text_zh, text_en = render(draft.sections, fields, 0), render(draft.sections, fields, 1)
    row = NoticeRow(
        version=draft.version,
        text_zh=text_zh,
        text_en=text_en,
        sha256=notice_hash(text_zh, text_en),
        purpose_fields=fields,
        published_at=rt.clock.now(),
        published_by=who.id,
        scope=draft.scope,
    )
    session.add(row)
    session.flush()
    ledger.append(
        session,
        ledger.Entry(
            time=rt.clock.now(),
            actor=who.id,
            action="consent.notice.publish",
            object=f"notice:{draft.version}",
            details={"sha256": row.sha256, "purposes": sorted(fields)},
        ),
    )
    return row


def default_draft(rt: Runtime, version: str | None = None) -> NoticeDraft:
    """The notice in purposes.yaml, with each purpose's fields as they are now."""
    doc = yamlfile.load(rt.settings.policies_dir / "purposes.yaml")
    notice = doc.get("notice") or {}
    sections = {k: {lang: str(v.get(lang, "")) for lang in LANGUAGES} for k, v in yamlfile.items(notice.get("sections") or {})}
    return NoticeDraft(
        version=version or str(notice.get("version", "")),
        sections=sections,
        purpose_fields={p.id: sorted(p.fields) for p in rt.policy.purposes.by_id.values()},
    )


def ensure_default_notice(session: Session, rt: Runtime, who: Principal) -> NoticeRow:
    draft = default_draft(rt)
    row = session.get(NoticeRow, draft.version)
    return row if row is not None else publish_notice(session, rt, who, draft)


def current_notice(session: Session, scope: str = "general") -> NoticeRow | None:
    """The newest notice of ``scope``: a purpose's own notice (the device notice) never replaces the general one."""
    newest = select(NoticeRow).where(NoticeRow.scope == scope).order_by(NoticeRow.published_at.desc(), NoticeRow.version.desc())
    return session.scalars(newest.limit(1)).first()


def get_notice(session: Session, version: str) -> NoticeRow:
    row = session.get(NoticeRow, version)
    if row is None:
        raise UnknownNotice(version)
    return row


def _purpose(rt: Runtime, purpose_id: str) -> Purpose:
    purpose = rt.policy.purposes.get(purpose_id)
    if purpose is None:
        raise UnknownPurpose(purpose_id)
    return purpose


def _check_kind(rt: Runtime, purpose: Purpose, kind: str) -> None:
    if kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}", path="kind")
    if not purpose.needs_consent:
        # PIPL Art. 13(2)-(7): these purposes rest on another legal basis; a consent would mislead.
        raise ConsentNotApplicable(f"purpose '{purpose.id}' rests on '{purpose.legal_basis}' (PIPL Art. 13), not on consent")
    if kind in ("third_party", "public_disclosure", "cross_border") and kind not in purpose.separate:
        raise ConsentNotApplicable(f"purpose '{purpose.id}' involves no '{kind}' processing")
    if kind == "sensitive" and not any(rt.catalog.fields[f].sensitive for f in purpose.fields):
        raise ConsentNotApplicable(f"purpose '{purpose.id}' uses no sensitive field")


def _evidence(rt: Runtime, subject_id: str, parts: Mapping[str, Any]) -> str:
    body = dict(parts, subject_ref=ledger.subject_ref(rt.keys, subject_id))
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


def may_prompt(session: Session, rt: Runtime, subject_id: str, purpose: str, kind: str = "purpose") -> bool:
    """After a refusal, ask again at most ``consent_reprompt_limit`` times in the window (PIPL Art. 16)."""
    last = latest(session, subject_id, purpose, kind)
    if last is None or last.action != "refuse":
        return True
    since = max(last.recorded_at, rt.clock.now() - timedelta(days=rt.settings.consent_reprompt_window_days))
    prompts = session.scalar(
        select(func.count())
        .select_from(ConsentRow)
        .where(
            ConsentRow.subject_id == subject_id,
            ConsentRow.purpose == purpose,
            ConsentRow.kind == kind,
            ConsentRow.action == "prompt",
            ConsentRow.recorded_at >= since,
        )
    )
    return int(prompts or 0) < rt.settings.consent_reprompt_limit


def record(
    session: Session,
    rt: Runtime,
    who: Principal,
    subject_id: str,
    *,
    purpose: str,
    action: str,
    kind: str = "purpose",
    notice_version: str | None = None,
    channel: str = "staff",
    by_guardian: bool = False,
    evidence: str = "",
) -> ConsentState:
    """Record one grant, refusal, withdrawal or prompt; everything is checked before anything is written."""
    _need_own_or(session, who, subject_id, RECORD_ROLES, "record consents")
    if who.kind == "borrower" and action != "withdraw":
        raise Forbidden("in the portal a person withdraws consents; grants come with the notice in the app")
    p = _purpose(rt, purpose)
    if action not in ACTIONS:
        raise InvalidInput(f"action must be one of {', '.join(ACTIONS)}", path="action")
    if channel not in CHANNELS:
        raise InvalidInput(f"channel must be one of {', '.join(CHANNELS)}", path="channel")
    _check_kind(rt, p, kind)
    subjects.require_live(session, subject_id)
    previous = latest(session, subject_id, purpose, kind)
    if action == "withdraw":
        # Art. 15: only what was given can be withdrawn; it applies to the notice it was given under.
        if previous is None or previous.action != "grant":
            raise ConsentNotGiven(f"there is no consent to withdraw for '{purpose}' ({kind})")
        version = notice_version or previous.notice_version
        if version != previous.notice_version:
            raise ConsentNotGiven(f"the consent for '{purpose}' was given under notice {previous.notice_version}, not {version}")
        notice = get_notice(session, version)
    else:
        if not notice_version:
            raise InvalidInput("notice_version is required: the person consents to a notice they were shown", path="notice_version")
        notice = get_notice(session, notice_version)
        if purpose not in notice.purpose_fields:
            raise ConsentNotApplicable(f"notice {notice.version} does not tell of purpose '{purpose}' (PIPL Art. 17)")
    if action == "grant":
        age = subjects.subject_age(session, rt, subject_id, rt.clock.now().date())
        if age is not None and age < GUARDIAN_AGE and not by_guardian:
            # Art. 31: under 14, only a parent's or other guardian's consent counts.
            raise GuardianRequired("this person is under 14: a parent's or guardian's consent is needed (PIPL Art. 31)")
    if action == "prompt" and not may_prompt(session, rt, subject_id, purpose, kind):
        raise PromptLimit(f"the person refused '{purpose}'; they may not be asked again yet")
    now = rt.clock.now()
    digest = _evidence(
        rt,
        subject_id,
        {
            "purpose": purpose,
            "kind": kind,
            "action": action,
            "notice_sha256": notice.sha256,
            "channel": channel,
            "by_guardian": by_guardian,
            "time": now.isoformat(),
            "evidence": hashlib.sha256(evidence.encode()).hexdigest(),
        },
    )
    row = ConsentRow(
        subject_id=subject_id,
        purpose=purpose,
        kind=kind,
        action=action,
        notice_version=notice.version,
        channel=channel,
        by_guardian=by_guardian,
        evidence_sha256=digest,
        recorded_at=now,
        recorded_by=who.id,
    )
    session.add(row)
    session.flush()
    ledger.append(
        session,
        ledger.Entry(
            time=now,
            actor=who.id,
            action=f"consent.{action}",
            object=f"consent:{purpose}:{kind}",
            subject_ref=ledger.subject_ref(rt.keys, subject_id),
            purpose=purpose,
            decision=action,
            details={
                "kind": kind,
                "notice_version": notice.version,
                "channel": channel,
                "by_guardian": by_guardian,
                "evidence_sha256": digest,
                "necessary": p.necessary,
            },
        ),
    )
    return _state(row)


def _state(row: ConsentRow) -> ConsentState:
    return ConsentState(
        purpose=row.purpose,
        kind=row.kind,
        action=row.action,
        notice_version=row.notice_version,
        channel=row.channel,
        by_guardian=row.by_guardian,
        recorded_at=row.recorded_at,
        evidence_sha256=row.evidence_sha256,
        record_id=row.id,
    )


def states(session: Session, rt: Runtime, who: Principal, subject_id: str) -> list[ConsentState]:
    """The current state of every consent of this person, one per purpose and kind."""
    _need_own_or(session, who, subject_id, READ_ROLES, "read consents")
    subjects.require_live(session, subject_id)
    rows = session.scalars(
        select(ConsentRow).where(ConsentRow.subject_id == subject_id, ConsentRow.action != "prompt").order_by(ConsentRow.id)
    ).all()
    current: dict[tuple[str, str], ConsentRow] = {}
    for row in rows:
        current[(row.purpose, row.kind)] = row
    return [_state(r) for _, r in sorted(current.items())]


def history(session: Session, rt: Runtime, who: Principal, subject_id: str) -> list[ConsentState]:
    _need(who, READ_ROLES, "read consents")
    subjects.require_live(session, subject_id)
    rows = session.scalars(select(ConsentRow).where(ConsentRow.subject_id == subject_id).order_by(ConsentRow.id)).all()
    return [_state(r) for r in rows]
