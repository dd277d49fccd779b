"""Contact rules: when, how often and whom a collector may contact, by jurisdiction preset.

Pure functions over a preset (from ``policies/collection.yaml``), the attempt and the contact
history, so every boundary (21:59/22:00, the fourth connected call, Regulation F's 7-in-7) is
tested with the clock alone. A refusal names its rule id and, when waiting helps, the first
moment contact is allowed again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lendshield.errors import ConfigurationError

FILE = "collection.yaml"
TargetRole = Literal["debtor", "guarantor", "third_party"]
Channel = Literal["call", "sms", "visit"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Hours(_Model):
    id: str
    start: time
    end: time


class Cap(_Model):
    id: str
    max: int = Field(ge=1)


class Rolling(_Model):
    id: str
    max: int = Field(ge=1)
    days: int = Field(ge=1)


class Quiet(_Model):
    id: str
    days: int = Field(ge=1)


class GuarantorRule(_Model):
    id: str
    allowed: bool


class ThirdPartyRule(_Model):
    id: str
    allowed: bool
    unreachable_hours: int = Field(ge=0)
    min_attempts: int = Field(ge=0)


class RefusalRule(_Model):
    id: str


class Contacts(_Model):
    guarantor: GuarantorRule
    third_party: ThirdPartyRule
    refusal: RefusalRule


class Preset(_Model):
    label_zh: str
    label_en: str
    allowed_hours: Hours
    connected_calls_per_day: Cap | None = None
    unanswered_per_number_per_day: Cap | None = None
    calls_per_debt_rolling: Rolling | None = None
    after_conversation: Quiet | None = None
    contacts: Contacts


class Common(_Model):
    pause_complaint: str
    pause_dispute: str
    pause_rights: str
    channel_preference: str
    not_assigned: str
    not_collectable: str
    verification_code_days: int = Field(ge=1)


class CollectionRules(_Model):
    version: Literal[1]
    default_preset: str
    presets: dict[str, Preset]
    common: Common

    def preset(self, name: str = "") -> tuple[str, Preset]:
        chosen = name or self.default_preset
        if chosen not in self.presets:
            raise ConfigurationError(f"{FILE}: no preset named {chosen!r}")
        return chosen, self.presets[chosen]


def load_rules(policies_dir: Path) -> CollectionRules:
    """Parse and check the rules file; every problem names the file and the key."""
    path = policies_dir / FILE
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"{FILE}: cannot be read or is not valid YAML") from exc
    try:
        rules = CollectionRules.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigurationError(f"{FILE}: {where}: {first['msg']}") from exc
    rules.preset()  # the default must exist
    return rules


@dataclass(frozen=True, slots=True)
class Past:
    """A contact already made (or attempted) about the same borrower."""

    at: datetime
    loan_id: str
    channel: str
    target_id: str
    target_role: str
    outcome: str  # pending | connected | unanswered | sent | delivered | failed | visited | blocked


@dataclass(frozen=True, slots=True)
class Attempt:
    loan_id: str
    channel: Channel
    target_id: str
    target_role: TargetRole
    tz: ZoneInfo
    now: datetime


@dataclass(frozen=True, slots=True)
class Blocked:
    rule_id: str
    reason: str
    next_allowed_at: datetime | None = None


def _next_window_start(local: datetime, hours: Hours) -> datetime:
    today_start = local.replace(hour=hours.start.hour, minute=hours.start.minute, second=0, microsecond=0)
    return today_start if local < today_start else today_start + timedelta(days=1)


def _in_hours(local: datetime, hours: Hours) -> bool:
    t = local.time().replace(tzinfo=None)
    if hours.start <= hours.end:
        return hours.start <= t < hours.end
    return t >= hours.start or t < hours.end  # a window across midnight


def _same_local_day(when: datetime, local: datetime, tz: ZoneInfo) -> bool:
    return when.astimezone(tz).date() == local.date()


def _calls(history: Sequence[Past]) -> list[Past]:
    return [p for p in history if p.channel == "call" and p.outcome != "blocked"]


def check_hours(preset: Preset, attempt: Attempt) -> Blocked | None:
    local = attempt.now.astimezone(attempt.tz)
    hours = preset.allowed_hours
    if _in_hours(local, hours):
        return None
    return Blocked(
        hours.id,
        f"no contact outside {hours.start:%H:%M}-{hours.end:%H:%M} in the person's time zone ({attempt.tz.key})",
        _next_window_start(local, hours).astimezone(attempt.now.tzinfo),
    )


def check_third_party(preset: Preset, attempt: Attempt, history: Sequence[Past], refused: frozenset[str]) -> Blocked | None:
    contacts = preset.contacts
    if attempt.target_role != "debtor" and attempt.target_id in refused:
        return Blocked(contacts.refusal.id, "this person has refused further contact; it is recorded")
    if attempt.target_role == "guarantor":
        rule = contacts.guarantor
        return None if rule.allowed else Blocked(rule.id, "guarantors may not be contacted under this preset")
    if attempt.target_role != "third_party":
        return None
    tp = contacts.third_party
    if not tp.allowed:
        return Blocked(tp.id, "third parties may not be contacted under this preset")
    debtor_calls = [p for p in _calls(history) if p.target_role == "debtor"]
    connected = [p.at for p in debtor_calls if p.outcome == "connected"]
    since = max(connected) if connected else None
    unanswered = sorted(p.at for p in debtor_calls if p.outcome in ("unanswered", "pending") and (since is None or p.at > since))
    if len(unanswered) < tp.min_attempts:
        return Blocked(
            tp.id,
            f"an emergency contact may be reached only when the debtor is unreachable: "
            f"{len(unanswered)} of {tp.min_attempts} unanswered attempts since the last conversation",
        )
    if unanswered and attempt.now - unanswered[0] < timedelta(hours=tp.unreachable_hours):
        return Blocked(
            tp.id,
            f"the debtor has been unreachable for less than {tp.unreachable_hours} hours",
            unanswered[0] + timedelta(hours=tp.unreachable_hours),
        )
    return None


def check_frequency(preset: Preset, attempt: Attempt, history: Sequence[Past]) -> Blocked | None:
    if attempt.channel != "call":
        return None
    local = attempt.now.astimezone(attempt.tz)
    tomorrow = _next_window_start(local.replace(hour=23, minute=59), preset.allowed_hours).astimezone(attempt.now.tzinfo)
    calls = _calls(history)
    cap = preset.connected_calls_per_day
    if cap is not None and attempt.target_role == "debtor":
        today = [p for p in calls if p.target_role == "debtor" and p.outcome == "connected" and _same_local_day(p.at, local, attempt.tz)]
        if len(today) >= cap.max:
            return Blocked(cap.id, f"{len(today)} connected calls with the debtor today; at most {cap.max} a day", tomorrow)
    cap = preset.unanswered_per_number_per_day
    if cap is not None:
        missed = [
            p
            for p in calls
            if p.target_id == attempt.target_id and p.outcome in ("unanswered", "pending") and _same_local_day(p.at, local, attempt.tz)
        ]
        if len(missed) >= cap.max:
            return Blocked(cap.id, f"{len(missed)} unanswered attempts to this number today; at most {cap.max} a day", tomorrow)
    rolling = preset.calls_per_debt_rolling
    if rolling is not None:
        window = timedelta(days=rolling.days)
        recent = sorted(p.at for p in calls if p.loan_id == attempt.loan_id and attempt.now - p.at < window)
        if len(recent) >= rolling.max:
            return Blocked(
                rolling.id,
                f"{len(recent)} calls about this debt in the last {rolling.days} days; at most {rolling.max}",
                recent[len(recent) - rolling.max] + window,
            )
    quiet = preset.after_conversation
    if quiet is not None:
        window = timedelta(days=quiet.days)
        talks = [p.at for p in calls if p.loan_id == attempt.loan_id and p.outcome == "connected" and attempt.now - p.at < window]
        if talks:
            return Blocked(quiet.id, f"a conversation about this debt took place less than {quiet.days} days ago", max(talks) + window)
    return None


def evaluate(preset: Preset, attempt: Attempt, history: Sequence[Past], refused: frozenset[str] = frozenset()) -> Blocked | None:
    """The first rule the attempt breaks, or None when it may go ahead."""
    return check_hours(preset, attempt) or check_third_party(preset, attempt, history, refused) or check_frequency(preset, attempt, history)


def describe(rules: CollectionRules, name: str) -> dict[str, Any]:
    """The preset as a plain mapping, for the API and the docs."""
    chosen, preset = rules.preset(name)
    return {"preset": chosen} | preset.model_dump(mode="json")
