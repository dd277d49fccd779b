"""The insider-watch rules as pure functions: ledger records and facts in, findings out.

Window rules slide: an alert fires at the entry that brings the measure in the last ``window``
minutes to the threshold. Findings are keyed by the fixed window (bucket) the triggering entry
falls in, so one actor abusing for an hour gets one alert with all the evidence, not hundreds.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from lendshield.watch.alerts import Finding
from lendshield.watch.config import WatchConfig, matches
from lendshield.watch.ledger_read import Record


@dataclass(frozen=True, slots=True)
class Facts:
    """What the rules need to know besides the entries, looked up by the engine."""

    roles: Mapping[str, frozenset[str]]
    """Actor id -> roles (actors that are not staff principals have none)."""
    canaries: Mapping[str, tuple[str, int]]
    """subject_ref -> (canary subject id, sequence number of its registration)."""
    assigned: Callable[[str], frozenset[str]]
    """Collector id -> subject_refs of the people assigned to them (borrowers and their contacts)."""


def _bucket(when: datetime, minutes: int) -> str:
    size = minutes * 60
    return f"{int(when.timestamp()) // size * size}/{minutes}m"


def _refs_in(details: Any, canaries: Mapping[str, object], depth: int = 0) -> set[str]:
    """Canary refs mentioned anywhere in an entry's details (an export listing subject refs)."""
    if depth > 4:
        return set()
    if isinstance(details, str):
        return {details} if details in canaries else set()
    if isinstance(details, dict):
        details = list(details.values())
    if isinstance(details, list):
        found: set[str] = set()
        for item in details[:10_000]:
            found |= _refs_in(item, canaries, depth + 1)
        return found
    return set()


def canary_touches(cfg: WatchConfig, new: list[Record], facts: Facts) -> list[Finding]:
    """Any entry after a canary's registration that concerns it: a read allowed or denied, a
    detokenisation, a lookup match, a correction, an export ... (the path does not matter)."""
    rule = cfg.rules.canary_touch
    out: list[Finding] = []
    if not facts.canaries:
        return out
    for r in new:
        refs = _refs_in(r.details, facts.canaries)
        if r.subject_ref is not None and r.subject_ref in facts.canaries:
            refs.add(r.subject_ref)
        touched = sorted(ref for ref in refs if r.seq > facts.canaries[ref][1])
        if not touched:
            continue
        canary_ids = sorted(facts.canaries[ref][0] for ref in touched)
        out.append(
            Finding(
                rule_id="canary-touch",
                severity=rule.severity,
                actor=r.actor,
                window_key=_bucket(r.time, rule.window_minutes),
                title="canary subject touched",
                measure=len(canary_ids),
                threshold=1,
                first_seen=r.time,
                last_seen=r.time,
                seqs={r.seq},
                facts={"canaries": canary_ids, "actions": [r.action]},
                subject_ref=touched[0],
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class _Event:
    record: Record
    key: str
    weight: int


def _sliding(events: list[_Event], window: timedelta, cursor: int, distinct: bool, threshold: int) -> Iterator[tuple[int, int, int]]:
    """For each new event (seq > cursor) at which the measure over (time - window, time] reaches
    the threshold: (index of the window's first event, index of the event, measure)."""
    keys: Counter[str] = Counter()
    total = 0
    start = 0
    for i, event in enumerate(events):
        keys[event.key] += 1
        total += event.weight
        while events[start].record.time <= event.record.time - window:
            old = events[start]
            keys[old.key] -= 1
            if keys[old.key] == 0:
                del keys[old.key]
            total -= old.weight
            start += 1
        if event.record.seq <= cursor:
            continue
        measure = len(keys) if distinct else total
        if measure >= threshold:
            yield start, i, measure


def _window_findings(
    rule_id: str, severity: str, actor: str, events: list[_Event], minutes: int, cursor: int, distinct: bool, threshold: int, title: str
) -> list[Finding]:
    """One finding per bucket: the union of the sliding windows that reached the threshold in it."""
    events = sorted(events, key=lambda e: (e.record.time, e.record.seq))
    spans: dict[str, tuple[int, int, int]] = {}
    for start, end, measure in _sliding(events, timedelta(minutes=minutes), cursor, distinct, threshold):
        bucket = _bucket(events[end].record.time, minutes)
        first, _last, best = spans.get(bucket, (start, end, 0))
        spans[bucket] = (min(first, start), end, max(best, measure))
    out = []
    for bucket, (first, last, measure) in spans.items():
        window = events[first : last + 1]
        out.append(
            Finding(
                rule_id=rule_id,
                severity=severity,
                actor=actor,
                window_key=bucket,
                title=title,
                measure=measure,
                threshold=threshold,
                first_seen=window[0].record.time,
                last_seen=window[-1].record.time,
                seqs={e.record.seq for e in window},
                facts={"window_minutes": minutes, "actions": sorted({e.record.action for e in window})},
            )
        )
    return out


def reads(cfg: WatchConfig, records: list[Record]) -> list[Record]:
    """Reads of one person: the gate's entries with a subject, refused ones too if configured."""
    return [r for r in records if r.subject_ref is not None and cfg.is_read(r.action) and (cfg.count_denied_reads or r.decision != "deny")]


def read_unassigned(cfg: WatchConfig, actor: str, history: list[Record], cursor: int, facts: Facts) -> list[Finding]:
    rule = cfg.rules.read_unassigned
    if not rule.enabled or not facts.roles.get(actor, frozenset()) & set(rule.roles):
        return []
    mine = facts.assigned(actor)
    events = [_Event(r, r.subject_ref or "", 1) for r in reads(cfg, history) if r.subject_ref not in mine]
    return _window_findings(
        "read-unassigned",
        rule.severity,
        actor,
        events,
        rule.window_minutes,
        cursor,
        True,
        rule.threshold,
        "read of people not assigned to the reader",
    )


def subjects_per_hour(cfg: WatchConfig, actor: str, history: list[Record], cursor: int, facts: Facts) -> list[Finding]:
    rule = cfg.rules.subjects_per_hour
    norm = rule.norm_for(facts.roles.get(actor, frozenset())) if rule.enabled else None
    if norm is None:
        return []
    events = [_Event(r, r.subject_ref or "", 1) for r in reads(cfg, history)]
    found = _window_findings(
        "subjects-per-hour",
        rule.severity,
        actor,
        events,
        rule.window_minutes,
        cursor,
        True,
        norm + 1,
        f"more distinct people read than the role's norm of {norm}",
    )
    for f in found:
        f.facts["norm"] = norm
    return found


def _off_hours_shift(cfg: WatchConfig, when: datetime) -> str | None:
    """None within working hours; else the working day the off-hours stretch follows.

    Shifting local time back by the start hour makes 21:00 Monday to 07:59 Tuesday one stretch.
    """
    rule = cfg.rules.off_hours
    local = when.astimezone(cfg.zone)
    if local.isoweekday() in rule.days and rule.start <= local.time() < rule.end:
        return None
    shifted = local - timedelta(hours=rule.start.hour, minutes=rule.start.minute)
    return shifted.date().isoformat()


def off_hours(cfg: WatchConfig, actor: str, history: list[Record], cursor: int, facts: Facts) -> list[Finding]:
    rule = cfg.rules.off_hours
    if not rule.enabled or not facts.roles.get(actor, frozenset()) & set(rule.roles):
        return []
    seen: dict[str, list[Record]] = {}
    out = []
    for r in sorted(reads(cfg, history), key=lambda r: (r.time, r.seq)):
        shift = _off_hours_shift(cfg, r.time)
        if shift is None:
            continue
        stretch = seen.setdefault(shift, [])
        stretch.append(r)
        if r.seq > cursor and len(stretch) >= rule.threshold:
            out.append(
                Finding(
                    rule_id="off-hours-read",
                    severity=rule.severity,
                    actor=actor,
                    window_key=f"after:{shift}",
                    title=f"reads outside working hours ({rule.start:%H:%M}-{rule.end:%H:%M} {cfg.timezone})",
                    measure=len(stretch),
                    threshold=rule.threshold,
                    first_seen=stretch[0].time,
                    last_seen=r.time,
                    seqs={x.seq for x in stretch},
                    facts={"after_working_day": shift, "timezone": cfg.timezone},
                )
            )
    return out


def repeated_denials(cfg: WatchConfig, actor: str, history: list[Record], cursor: int, facts: Facts) -> list[Finding]:
    rule = cfg.rules.repeated_denials
    if not rule.enabled:
        return []
    events = [
        _Event(r, str(r.seq), 1) for r in history if any(matches(r.action, m.actions) and r.decision in m.decisions for m in rule.match)
    ]
    return _window_findings(
        "repeated-denials",
        rule.severity,
        actor,
        events,
        rule.window_minutes,
        cursor,
        False,
        rule.threshold,
        f"{rule.threshold} or more refusals within {rule.window_minutes} minutes",
    )


def _export_count(details: dict[str, Any], keys: list[str]) -> int:
    for key in keys:
        value = details.get(key)
        if isinstance(value, bool):
            continue
        if isinstance(value, int) and value >= 0:
            return value
        if isinstance(value, list):
            return len(value)
    return 1


def bulk_export(cfg: WatchConfig, actor: str, history: list[Record], cursor: int, facts: Facts) -> list[Finding]:
    rule = cfg.rules.bulk_export
    if not rule.enabled:
        return []
    events = [
        _Event(r, str(r.seq), _export_count(r.details, rule.count_keys))
        for r in history
        if matches(r.action, rule.actions) and r.decision not in rule.ignore_decisions
    ]
    found = _window_findings(
        "bulk-export",
        rule.severity,
        actor,
        events,
        rule.window_minutes,
        cursor,
        False,
        rule.threshold,
        f"{rule.threshold} or more records exported within {rule.window_minutes} minutes",
    )
    for f in found:
        f.facts["records"] = f.measure
    return found


@dataclass(frozen=True, slots=True)
class ActorRule:
    """A rule over one actor's recent entries: which actions it needs and how far back."""

    evaluate: Callable[[WatchConfig, str, list[Record], int, Facts], list[Finding]]
    actions: Callable[[WatchConfig], list[str]]
    lookback_minutes: Callable[[WatchConfig], int]
    relevant: Callable[[WatchConfig, Record], bool]
    """Whether a new entry makes its actor worth evaluating (and their history worth reading)."""


def _read_patterns(cfg: WatchConfig) -> list[str]:
    return list(cfg.read_actions)


def _read_lookback(cfg: WatchConfig) -> int:
    r = cfg.rules
    return max(r.read_unassigned.window_minutes, r.subjects_per_hour.window_minutes)


def _is_read(cfg: WatchConfig, r: Record) -> bool:
    return bool(reads(cfg, [r]))


def _is_off_hours_read(cfg: WatchConfig, r: Record) -> bool:
    return cfg.rules.off_hours.enabled and _is_read(cfg, r) and _off_hours_shift(cfg, r.time) is not None


def _is_denial(cfg: WatchConfig, r: Record) -> bool:
    rule = cfg.rules.repeated_denials
    return rule.enabled and any(matches(r.action, m.actions) and r.decision in m.decisions for m in rule.match)


def _is_export(cfg: WatchConfig, r: Record) -> bool:
    rule = cfg.rules.bulk_export
    return rule.enabled and matches(r.action, rule.actions) and r.decision not in rule.ignore_decisions


ACTOR_RULES = (
    ActorRule(read_unassigned, _read_patterns, _read_lookback, lambda cfg, r: cfg.rules.read_unassigned.enabled and _is_read(cfg, r)),
    ActorRule(subjects_per_hour, _read_patterns, _read_lookback, lambda cfg, r: cfg.rules.subjects_per_hour.enabled and _is_read(cfg, r)),
    # An off-hours stretch is shorter than a day; its history is read only after an off-hours read.
    ActorRule(off_hours, _read_patterns, lambda cfg: 24 * 60, _is_off_hours_read),
    ActorRule(
        repeated_denials,
        lambda cfg: sorted({p for m in cfg.rules.repeated_denials.match for p in m.actions}),
        lambda cfg: cfg.rules.repeated_denials.window_minutes,
        _is_denial,
    ),
    ActorRule(bulk_export, lambda cfg: list(cfg.rules.bulk_export.actions), lambda cfg: cfg.rules.bulk_export.window_minutes, _is_export),
)
