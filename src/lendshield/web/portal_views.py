"""What the borrower portal shows: ledger entries in plain words, times in the person's zone.

Pure functions over the subject bundle (``ledger.proofs.bundle_for_subject``) and the catalog;
the routes are in ``web/portal.py``. Labels are English msgids translated by the caller.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lendshield.runtime import Runtime

DEFAULT_ZONE = "Asia/Shanghai"

# Categories the issue names: every access, device command, collection contact and request.
CATEGORIES = {
    "subject": "Access to your data",
    "consent": "Consent",
    "contact": "Contact",
    "collection": "Contact",
    "device": "Device",
    "rights": "Request",
    "account": "Account",
    "loan": "Loan",
}

ACTIONS = {
    "subject.read": "Your data was read",
    "subject.create": "Your record was created",
    "subject.lookup": "Your record was looked up",
    "subject.correct": "Your data was corrected",
    "subject.deliver": "Your number was used to deliver a message or call",
    "subject.relations": "How your emergency contacts are related to you was read",
    "subject.credential_check": "Your data was compared with a new password (nothing kept)",
    "subject.tokenize": "A token standing for your data was made",
    "subject.detokenize": "A token standing for your data was resolved",
    "subject.shred": "Your data was erased",
    "consent.grant": "Consent given",
    "consent.withdraw": "Consent withdrawn",
    "consent.refuse": "Consent refused",
    "consent.prompt": "You were asked for consent",
    "contact.deliver_message": "A message was sent to your phone",
    "collection.contact": "A collection contact",
    "collection.call_outcome": "The outcome of a collection call",
    "collection.recording": "A call recording was kept as evidence",
    "collection.verify_code": "A verification code was checked",
    "collection.preference": "Your contact preference was recorded",
    "collection.third_party_refused": "A contact with a third party was refused",
    "device.enroll": "Your device was enrolled",
    "device.request": "A device command was requested",
    "device.review": "A device command request was reviewed",
    "device.request.expire": "A device command request expired",
    "device.command": "A command was sent to your device",
    "device.ack": "Your device answered a command",
    "rights.file": "A request was filed",
    "account.create": "Your portal account was created",
    "account.sign_in": "Sign-in to the portal",
    "account.sign_in_code": "A sign-in code was entered",
    "account.register_code": "A registration code was entered",
    "account.reset_code": "A password-reset code was entered",
    "account.password_reset": "Your password was reset",
}

DECISIONS = {
    "allow": "allowed",
    "deny": "refused",
    "mask": "masked",
    "clear": "shown in full",
    "match": "found",
    "no-match": "not found",
    "grant": "given",
    "withdraw": "withdrawn",
    "refuse": "refused",
    "genuine": "genuine",
    "unknown": "not ours",
    "open": "received",
    "unverified": "waiting for identity check",
    "pending": "waiting for approval",
    "refused": "refused",
    "applied": "applied",
    "remind": "reminder",
    "restrict": "restrict the phone",
    "lock": "lock the phone",
    "unlock": "unlock the phone",
    "release": "release the phone",
    "rotate_key": "new command key",
}


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or DEFAULT_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_ZONE)


def local_time(when: datetime | None, tz: ZoneInfo) -> str:
    return when.astimezone(tz).strftime("%Y-%m-%d %H:%M") if when is not None else ""


def parse_time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def days_left(due: date, today: date) -> int:
    return (due - today).days


@dataclass(frozen=True, slots=True)
class TimelineRow:
    seq: int
    time: str
    raw_time: str
    action: str
    category: str
    what: str
    who: str
    purpose: str
    decision: str
    detail: str
    reason: str


def _purpose_label(rt: Runtime, purpose: str | None, lang: str) -> str:
    if not purpose:
        return ""
    spec = rt.policy.purposes.by_id.get(purpose)
    if spec is None:
        return purpose
    return spec.label_zh if lang == "zh_CN" else spec.label_en


def _field_labels(rt: Runtime, obj: str, lang: str) -> str:
    names = obj.removeprefix("fields:").split(",") if obj.startswith("fields:") else []
    out = []
    for name in names:
        spec = rt.catalog.fields.get(name)
        if spec is not None:
            out.append(spec.label_zh if lang == "zh_CN" else spec.label_en)
    return ", ".join(out)


def _who(actor: str, account_id: str, roles_of: Mapping[str, frozenset[str]], rt: Runtime, lang: str, gettext: Callable[[str], str]) -> str:
    if actor in (account_id, "self"):  # "self": the person registered their own account
        return gettext("You")
    if actor == "system":
        return gettext("LendShield (automatic)")
    roles = roles_of.get(actor)
    if not roles:
        return gettext("Someone not signed in") if actor == "unknown" else gettext("Unknown")
    labels = [str(rt.catalog.roles.get(r, {}).get("label_zh" if lang == "zh_CN" else "label_en", r)) for r in sorted(roles)]
    return gettext("Staff: %(roles)s") % {"roles": ", ".join(labels)}


def timeline(
    rt: Runtime,
    bundle: Mapping[str, Any],
    *,
    account_id: str,
    roles_of: Mapping[str, frozenset[str]],
    tz: ZoneInfo,
    lang: str,
    gettext: Callable[[str], str],
) -> list[TimelineRow]:
    """Newest first. Personal data never appears: entries hold ids, purposes and decisions only."""
    rows = []
    for item in bundle.get("entries", []):
        body = json.loads(item["body"])
        action = str(body.get("action", ""))
        prefix = action.split(".", 1)[0]
        label = ACTIONS.get(action) or ("Your request was handled" if prefix == "rights" else action)
        details = item.get("details") or {}
        detail = _field_labels(rt, str(body.get("object", "")), lang)
        if prefix == "device" and isinstance(details, dict) and isinstance(details.get("command"), str):
            detail = details["command"]
        raw_time = str(body.get("time", ""))
        decision = str(body.get("decision") or "")
        rows.append(
            TimelineRow(
                seq=int(item["seq"]),
                time=local_time(parse_time(raw_time), tz),
                raw_time=raw_time,
                action=action,
                category=gettext(CATEGORIES.get(prefix, "Other")),
                what=gettext(label),
                who=_who(str(body.get("actor", "")), account_id, roles_of, rt, lang, gettext),
                purpose=_purpose_label(rt, body.get("purpose"), lang),
                decision=gettext(DECISIONS[decision]) if decision in DECISIONS else decision,
                detail=detail,
                reason=str(body.get("reason") or ""),
            )
        )
    rows.reverse()
    return rows


def actors(bundle: Mapping[str, Any]) -> set[str]:
    return {str(json.loads(item["body"]).get("actor", "")) for item in bundle.get("entries", [])}
