"""The rights rules from ``policies/rights.yaml`` and the holiday file ``policies/holidays.yaml``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lendshield.errors import ConfigurationError
from lendshield.rights.models import REQUEST_TYPES
from lendshield.rulefile import RuleFile

FILE_NAME = "rights.yaml"
HOLIDAYS_FILE = "holidays.yaml"
CALENDARS = ("cn", "weekdays")


class RightsRulesInvalid(ConfigurationError):
    code = "rights-config-invalid"


RULES = RuleFile(FILE_NAME, RightsRulesInvalid)
HOLIDAYS = RuleFile(HOLIDAYS_FILE, RightsRulesInvalid)


@dataclass(frozen=True, slots=True, kw_only=True)
class Jurisdiction:
    code: str
    calendar: str
    timezone: str
    working_days: dict[str, int]
    max_extension_days: int

    def days_for(self, request_type: str) -> int:
        return self.working_days.get(request_type, self.working_days["default"])


@dataclass(frozen=True, slots=True, kw_only=True)
class YearOverride:
    """One year's official arrangement from the holiday file."""

    source: str
    holidays: frozenset[dt.date]
    workdays: frozenset[dt.date]


@dataclass(frozen=True, slots=True, kw_only=True)
class RightsRules:
    jurisdictions: dict[str, Jurisdiction]
    default_jurisdiction: str
    alert_before_working_days: int
    code_digits: int
    code_ttl: dt.timedelta
    code_max_attempts: int
    file_roles: frozenset[str]
    work_roles: frozenset[str]
    read_roles: frozenset[str]
    decision_roles: frozenset[str]
    review_roles: frozenset[str]
    restricted_purposes_allowed: frozenset[str]
    package_days: int
    unverified_days: int
    years: dict[int, YearOverride]


def _jurisdiction(code: str, raw: Any) -> Jurisdiction:
    where = f"jurisdictions.{code}"
    section = RULES.mapping(raw, where)
    calendar = section.get("calendar")
    if calendar not in CALENDARS:
        raise RULES.fail(f"{where}.calendar must be one of {', '.join(CALENDARS)}")
    days = RULES.mapping(section.get("working_days"), f"{where}.working_days")
    if "default" not in days:
        raise RULES.fail(f"{where}.working_days needs a default")
    for key in days:
        if key != "default" and key not in REQUEST_TYPES:
            raise RULES.fail(f"{where}.working_days.{key}: not a request type")
        RULES.integer(days, key, f"{where}.working_days", minimum=1)
    return Jurisdiction(
        code=code,
        calendar=str(calendar),
        timezone=str(section.get("timezone", "Asia/Shanghai")),
        working_days={str(k): int(v) for k, v in days.items()},
        max_extension_days=RULES.integer(section, "max_extension_days", where),
    )


def _dates(values: Any, where: str, year: int) -> frozenset[dt.date]:
    if values is None:
        return frozenset()
    if not isinstance(values, list):
        raise HOLIDAYS.fail(f"{where} must be a list of dates")
    out = set()
    for value in values:
        if not isinstance(value, dt.date) or isinstance(value, dt.datetime) or value.year != year:
            raise HOLIDAYS.fail(f"{where}: {value!r} is not a date in {year}")
        out.add(value)
    return frozenset(out)


def load_holidays(path: Path) -> dict[int, YearOverride]:
    """Years added or overridden by the holiday file; a missing file adds none."""
    if not path.is_file():
        return {}
    doc = HOLIDAYS.read(path) or {}
    years = HOLIDAYS.mapping(HOLIDAYS.mapping(doc, "the document").get("years") or {}, "years")
    out: dict[int, YearOverride] = {}
    for year, raw in years.items():
        if not isinstance(year, int) or not 2000 <= year <= 2100:
            raise HOLIDAYS.fail(f"years.{year} is not a year")
        where = f"years.{year}"
        section = HOLIDAYS.mapping(raw, where)
        source = section.get("source")
        if not isinstance(source, str) or not source.strip():
            raise HOLIDAYS.fail(f"{where}.source must name the official notice")
        holidays = _dates(section.get("holidays"), f"{where}.holidays", year)
        workdays = _dates(section.get("workdays"), f"{where}.workdays", year)
        if holidays & workdays:
            raise HOLIDAYS.fail(f"{where}: a day cannot be both a holiday and a working day")
        out[year] = YearOverride(source=source, holidays=holidays, workdays=workdays)
    return out


def load_rules(policies_dir: Path) -> RightsRules:
    """Parse and check both files; any mistake names the file and key."""
    doc = RULES.mapping(RULES.read(policies_dir / FILE_NAME), "the document")
    jurisdictions = {str(k): _jurisdiction(str(k), v) for k, v in RULES.section(doc, "jurisdictions").items()}
    default = doc.get("default_jurisdiction")
    if default not in jurisdictions:
        raise RULES.fail("default_jurisdiction must be one of the jurisdictions")
    verification = RULES.section(doc, "verification")
    retention = RULES.section(doc, "retention")
    digits = RULES.integer(verification, "code_digits", "verification", minimum=6)
    return RightsRules(
        jurisdictions=jurisdictions,
        default_jurisdiction=str(default),
        alert_before_working_days=RULES.integer(doc, "alert_before_working_days", ""),
        code_digits=min(digits, 10),
        code_ttl=dt.timedelta(minutes=RULES.integer(verification, "ttl_minutes", "verification", minimum=1)),
        code_max_attempts=RULES.integer(verification, "max_attempts", "verification", minimum=1),
        file_roles=RULES.roles(doc, "file_roles"),
        work_roles=RULES.roles(doc, "work_roles"),
        read_roles=RULES.roles(doc, "read_roles"),
        decision_roles=RULES.roles(doc, "decision_roles"),
        review_roles=RULES.roles(doc, "review_roles"),
        restricted_purposes_allowed=RULES.roles(doc, "restricted_purposes_allowed"),
        package_days=RULES.integer(retention, "package_days", "retention", minimum=1),
        unverified_days=RULES.integer(retention, "unverified_days", "retention", minimum=1),
        years=load_holidays(policies_dir / HOLIDAYS_FILE),
    )


_cache: dict[Path, tuple[tuple[float, float], RightsRules]] = {}


def _mtime(path: Path) -> float:
    return path.stat().st_mtime if path.exists() else 0.0


def rules_for(policies_dir: Path) -> RightsRules:
    """The rules, re-read when either file changes (operators add a year without a restart)."""
    stamp = (_mtime(policies_dir / FILE_NAME), _mtime(policies_dir / HOLIDAYS_FILE))
    cached = _cache.get(policies_dir)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    rules = load_rules(policies_dir)
    _cache[policies_dir] = (stamp, rules)
    return rules
