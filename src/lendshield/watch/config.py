"""The watch's rules and thresholds, from ``watch.yaml`` in the policies directory.

A wrong file refuses to load with the key that is wrong (never a silent default): a watch that
quietly stopped watching is worse than one that does not start.
"""

from __future__ import annotations

import fnmatch
import functools
import threading
from datetime import time
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from lendshield.runtime import Runtime
from lendshield.watch.errors import WatchConfigInvalid

FILE_NAME = "watch.yaml"
Severity = Literal["low", "medium", "high"]
Minutes = Annotated[int, Field(ge=1, le=7 * 24 * 60)]
Threshold = Annotated[int, Field(ge=1, le=10_000_000)]
Patterns = Annotated[list[Annotated[str, Field(min_length=1, max_length=64)]], Field(min_length=1, max_length=64)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CanaryTouch(_Strict):
    severity: Severity = "high"
    window_minutes: Minutes = 60


class CanaryScanHit(_Strict):
    severity: Severity = "high"
    window_minutes: Minutes = 1440


class ReadUnassigned(_Strict):
    enabled: bool = True
    severity: Severity = "high"
    roles: list[str] = Field(default_factory=lambda: ["collector"])
    threshold: Threshold = 1
    window_minutes: Minutes = 60


class SubjectsPerHour(_Strict):
    enabled: bool = True
    severity: Severity = "medium"
    window_minutes: Minutes = 60
    norms: dict[str, Annotated[int, Field(ge=0, le=10_000_000)]] = Field(default_factory=dict)

    def norm_for(self, roles: frozenset[str]) -> int | None:
        """The highest norm among the actor's roles; None when no role of theirs is measured."""
        known = [self.norms[r] for r in roles if r in self.norms]
        return max(known) if known else None


class OffHours(_Strict):
    enabled: bool = True
    severity: Severity = "medium"
    roles: list[str] = Field(default_factory=list)
    start: time = time(8, 0)
    end: time = time(21, 0)
    days: list[Annotated[int, Field(ge=1, le=7)]] = Field(default_factory=lambda: [1, 2, 3, 4, 5, 6, 7])
    threshold: Threshold = 1

    @field_validator("start", "end", mode="before")
    @classmethod
    def _hhmm(cls, value: object) -> object:
        # YAML 1.1 reads an unquoted 08:00 as a sexagesimal integer; ask for a quoted "HH:MM".
        if isinstance(value, int):
            raise ValueError('write times as quoted "HH:MM"')
        return value

    @model_validator(mode="after")
    def _order(self) -> OffHours:
        if self.start >= self.end:
            raise ValueError("start must be before end (working hours within one day)")
        return self


class DenialMatch(_Strict):
    actions: Patterns
    decisions: Annotated[list[Annotated[str, Field(min_length=1, max_length=32)]], Field(min_length=1)]


class RepeatedDenials(_Strict):
    enabled: bool = True
    severity: Severity = "medium"
    threshold: Threshold = 5
    window_minutes: Minutes = 10
    match: list[DenialMatch] = Field(default_factory=list)


class BulkExport(_Strict):
    enabled: bool = True
    severity: Severity = "high"
    actions: Patterns = Field(default_factory=lambda: ["transfer.export", "transfer.provision"])
    count_keys: Patterns = Field(default_factory=lambda: ["people", "rows", "records", "subjects", "count"])
    ignore_decisions: list[str] = Field(default_factory=lambda: ["deny"])
    threshold: Threshold = 1000
    window_minutes: Minutes = 1440


class Rules(_Strict):
    canary_touch: CanaryTouch = CanaryTouch()
    canary_scan_hit: CanaryScanHit = CanaryScanHit()
    read_unassigned: ReadUnassigned = ReadUnassigned()
    subjects_per_hour: SubjectsPerHour = SubjectsPerHour()
    off_hours: OffHours = OffHours()
    repeated_denials: RepeatedDenials = RepeatedDenials()
    bulk_export: BulkExport = BulkExport()


class WatchConfig(_Strict):
    version: Literal[1]
    timezone: str = "Asia/Shanghai"
    interval_seconds: Annotated[float, Field(gt=0, le=3600)] = 5.0
    batch_size: Annotated[int, Field(ge=10, le=100_000)] = 2000
    read_actions: Patterns = Field(default_factory=lambda: ["subject.*"])
    not_read_actions: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=lambda: [
            "subject.create",
            "subject.correct",
            "subject.shred",
            "subject.credential_check",
            "subject.export",
            "subject.provision",
        ]
    )
    count_denied_reads: bool = True
    ignore_actors: list[str] = Field(default_factory=lambda: ["system"])
    rules: Rules = Rules()

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("not an IANA time zone name") from exc
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def is_read(self, action: str) -> bool:
        return matches(action, self.read_actions) and not matches(action, self.not_read_actions)


def matches(action: str, patterns: list[str]) -> bool:
    return _matches(action, tuple(patterns))


@functools.lru_cache(maxsize=4096)
def _matches(action: str, patterns: tuple[str, ...]) -> bool:
    # Actions are a small vocabulary and every entry is matched several times: cache the answers.
    return any(fnmatch.fnmatchcase(action, p) for p in patterns)


def parse(text: str, name: str = FILE_NAME) -> WatchConfig:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise WatchConfigInvalid(f"{name}: not valid YAML") from exc
    if not isinstance(raw, dict):
        raise WatchConfigInvalid(f"{name}: expected a mapping at the top")
    try:
        return WatchConfig.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top)"
        raise WatchConfigInvalid(f"{name}: {where}: {first['msg']}") from exc


_CACHE: dict[Path, tuple[float, WatchConfig]] = {}
_LOCK = threading.Lock()


def load(policies_dir: Path) -> WatchConfig:
    """The parsed file, re-read when it changes (so thresholds can be tuned without a restart)."""
    path = policies_dir / FILE_NAME
    try:
        stamp = path.stat().st_mtime
    except OSError as exc:
        raise WatchConfigInvalid(f"{FILE_NAME} not found in the policies directory") from exc
    with _LOCK:
        cached = _CACHE.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise WatchConfigInvalid(f"{FILE_NAME} cannot be read") from exc
    config = parse(text)
    with _LOCK:
        _CACHE[path] = (stamp, config)
    return config


def for_runtime(rt: Runtime) -> WatchConfig:
    return load(rt.settings.policies_dir)
