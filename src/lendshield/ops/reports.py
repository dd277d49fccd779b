"""Compliance reports (JSON, HTML and PDF) and the public transparency figures.

- Record of processing activities, from the catalog and the purposes (PIPL Arts. 17, 51).
- Impact-assessment drafts for each case PIPL Art. 55 requires: sensitive data, automated
  decisions, provision to others, transfers abroad (kept at least 3 years, Art. 56).
- Threshold checks: a protection officer from 1,000,000 people (Art. 52 and the CAC's 2025
  notice); a compliance audit at least every 2 years above 10,000,000 (合规审计管理办法).
- For a period: the rights-request on-time rate, collection-rule blocks by rule id, device commands
  by type and payment-to-unlock latency; restore drills; recipients abroad and the year's
  cross-border volumes; incidents.

Each report is stored with ``keep_until`` (3 years on); the database refuses to delete it before.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lendshield import ledger
from lendshield.collection.models import ContactRow
from lendshield.devices.models import CommandRequestRow, CommandRow, DeviceRow
from lendshield.errors import Forbidden, InvalidInput, NotFound
from lendshield.ledger.entry import rfc3339
from lendshield.loans.models import LoanEventRow
from lendshield.ops.models import DrillRunRow, IncidentRow, IncidentSubjectRow, ReportRow
from lendshield.principals import Principal
from lendshield.rights import service as rights
from lendshield.runtime import Runtime
from lendshield.transfers import config as transfer_config
from lendshield.transfers import thresholds as transfer_thresholds
from lendshield.transfers.models import RecipientRow, VolumeRow

REPORT_ROLES = frozenset({"protection_officer", "auditor"})
OFFICER_THRESHOLD = 1_000_000
AUDIT_THRESHOLD = 10_000_000
AUDIT_INTERVAL_YEARS = 2
KEEP_YEARS = 3


def _count_people(session: Session) -> int:
    from lendshield.subjects.models import SubjectRow

    return int(
        session.scalar(select(func.count()).select_from(SubjectRow).where(SubjectRow.status == "active", SubjectRow.kind != "canary")) or 0
    )


def record_of_processing(rt: Runtime) -> list[dict[str, Any]]:
    out = []
    for purpose in rt.policy.purposes.by_id.values():
        fields = [rt.catalog.fields[f] for f in sorted(purpose.fields) if f in rt.catalog.fields]
        out.append(
            {
                "purpose": purpose.id,
                "label_zh": purpose.label_zh,
                "label_en": purpose.label_en,
                "legal_basis": purpose.legal_basis,
                "necessary": purpose.necessary,
                "retention_days": purpose.retention_days,
                "fields": [{"name": f.name, "category": f.category, "sensitive": f.sensitive} for f in fields],
                "separate_consents": sorted(purpose.separate),
            }
        )
    return out


def impact_assessments(rt: Runtime) -> list[dict[str, Any]]:
    """One draft per Art. 55 case; the officer completes and signs them."""
    cases = []
    for row in record_of_processing(rt):
        sensitive = [f["name"] for f in row["fields"] if f["sensitive"]]
        triggers = []
        if sensitive:
            triggers.append("sensitive personal information (Art. 55(1))")
        if row["purpose"] in ("credit_assessment", "fraud_prevention"):
            triggers.append("automated decision-making (Art. 55(2))")
        if "third_party" in row["separate_consents"]:
            triggers.append("provision to another processor (Art. 55(3))")
        if "cross_border" in row["separate_consents"]:
            triggers.append("provision abroad (Art. 55(4))")
        if triggers:
            cases.append(
                {
                    "purpose": row["purpose"],
                    "triggers": triggers,
                    "sensitive_fields": sensitive,
                    "legal_basis": row["legal_basis"],
                    "retention_days": row["retention_days"],
                    "measures": [
                        "per-person AES-256-GCM encryption with keys outside the database",
                        "masking by default",
                        "purpose-bound access with a reason for clear text",
                        "every access in the transparency log",
                    ],
                    "to_complete": ["necessity and proportionality", "impact on the person's rights", "residual risk and sign-off"],
                }
            )
    return cases


@dataclass(frozen=True, slots=True)
class Period:
    """The report's period: UTC dates, both ends included."""

    start: dt.date
    end: dt.date

    @classmethod
    def of(cls, rt: Runtime, start: dt.date | None = None, end: dt.date | None = None) -> Period:
        """By default from 1 January of the current year to today (the year the cross-border volumes count)."""
        today = rt.clock.now().astimezone(dt.UTC).date()
        last = end or today
        first = start or dt.date(last.year, 1, 1)
        if last < first:
            raise InvalidInput("end: must not be before start", path="end")
        if last >= dt.date.max:
            raise InvalidInput("end: must be a date before 9999-12-31", path="end")
        return cls(first, last)

    @property
    def lo(self) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time(), tzinfo=dt.UTC)

    @property
    def hi(self) -> dt.datetime:
        return dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)

    def as_dict(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) by linear interpolation between closest ranks; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def rights_figures(session: Session, rt: Runtime, period: Period) -> dict[str, Any]:
    """Requests filed in the period answered by their due date (``lendshield.rights.service.on_time_rate``)."""
    rate = rights.on_time_rate(session, rt, period.start, period.end)
    return {
        "answered": rate.answered,
        "on_time": rate.on_time,
        "late": rate.late,
        "open_overdue": rate.open_overdue,
        "on_time_rate": rate.rate,
    }


def collection_figures(session: Session, period: Period) -> dict[str, Any]:
    """Contact attempts in the period, and those the collection rules blocked, by rule id."""
    in_period = (ContactRow.created_at >= period.lo, ContactRow.created_at < period.hi)
    attempts = int(session.scalar(select(func.count()).select_from(ContactRow).where(*in_period)) or 0)
    blocked = session.execute(
        select(ContactRow.rule_id, func.count()).where(ContactRow.outcome == "blocked", *in_period).group_by(ContactRow.rule_id)
    ).all()
    by_rule = {str(rule or "unspecified"): int(n) for rule, n in blocked}
    return {"attempts": attempts, "blocked": sum(by_rule.values()), "blocked_by_rule": dict(sorted(by_rule.items()))}


_LOCKING = frozenset({"lock", "restrict"})
_FREEING = frozenset({"unlock", "release"})


def _payment_to_unlock(session: Session, period: Period | None) -> tuple[list[float], int]:
    """Seconds from the payment that brought a locked loan current to the device's acknowledgement
    of the unlock (or release) it triggered; and how many such unlocks are not acknowledged yet.

    One figure per lock episode ended by a payment: the first unlock or release after a lock or
    restrict, when a payment (or payoff) arrived after the lock and before that unlock; the time
    ends at the first acknowledged unlock or release of the episode (a lapsed unlock re-issued at
    check-in counts in the same episode). Episodes are counted in the period of their payment.
    """
    payments: dict[str, list[dt.datetime]] = {}
    for loan_id, at in session.execute(
        select(LoanEventRow.loan_id, LoanEventRow.received_at)
        .where(LoanEventRow.kind.in_(("payment", "payoff")))
        .order_by(LoanEventRow.received_at)
    ):
        payments.setdefault(loan_id, []).append(at)
    latencies: list[float] = []
    pending = 0
    rows = session.execute(
        select(CommandRow.device_id, DeviceRow.loan_id, CommandRow.command, CommandRow.issued_at, CommandRow.acked_at)
        .join(DeviceRow, DeviceRow.id == CommandRow.device_id)
        .where(CommandRow.command.in_(_LOCKING | _FREEING))
        .order_by(CommandRow.device_id, CommandRow.seq)
    )
    episodes: list[tuple[dt.datetime, dt.datetime | None]] = []  # (payment, first acknowledged unlock)
    state: dict[str, tuple[dt.datetime | None, int | None]] = {}  # device -> (locked since, open episode index)
    for device_id, loan_id, command, issued_at, acked_at in rows:
        locked_since, open_episode = state.get(device_id, (None, None))
        if command in _LOCKING:
            state[device_id] = (locked_since or issued_at, None)
            continue
        if open_episode is not None:  # a later unlock of the same episode (re-issued after it lapsed)
            payment, done = episodes[open_episode]
            if done is None and acked_at is not None:
                episodes[open_episode] = (payment, acked_at)
            continue
        if locked_since is None:
            continue
        paid = [p for p in payments.get(loan_id, []) if locked_since <= p <= issued_at]
        if not paid:
            state[device_id] = (None, None)
            continue
        episodes.append((paid[-1], acked_at))
        state[device_id] = (None, len(episodes) - 1)
    for payment, done in episodes:
        if period is not None and not period.lo <= payment < period.hi:
            continue
        if done is None:
            pending += 1
        else:
            latencies.append(max(0.0, (done - payment).total_seconds()))
    return latencies, pending


def device_figures(session: Session, period: Period | None = None) -> dict[str, Any]:
    """Commands by type and lock requests by status (in the period, or ever), payment-to-unlock latency."""
    commands = select(CommandRow.command, func.count()).group_by(CommandRow.command)
    requests = select(CommandRequestRow.status, func.count()).group_by(CommandRequestRow.status)
    if period is not None:
        commands = commands.where(CommandRow.issued_at >= period.lo, CommandRow.issued_at < period.hi)
        requests = requests.where(CommandRequestRow.requested_at >= period.lo, CommandRequestRow.requested_at < period.hi)
    by_command = dict(session.execute(commands).all())
    by_status = dict(session.execute(requests).all())
    latencies, pending = _payment_to_unlock(session, period)
    return {
        "commands": {str(k): int(v) for k, v in sorted(by_command.items())},
        "lock_requests": {str(k): int(v) for k, v in sorted(by_status.items())},
        "payment_to_unlock_seconds": {
            "count": len(latencies),
            "median": statistics.median(latencies) if latencies else None,
            "p95": percentile(latencies, 0.95),
            "max": max(latencies) if latencies else None,
            "not_acknowledged": pending,
        },
    }


def _failed_checks(summary: dict[str, object]) -> list[str]:
    checks = summary.get("checks")
    if not isinstance(checks, list):
        return []
    return [str(c[0]) for c in checks if isinstance(c, list) and len(c) == 2 and not c[1]]


def drill_figures(session: Session, rt: Runtime | None = None) -> dict[str, Any]:
    """Restore drills: how many, how many failed, the last good one and the last failures."""
    last_good = session.scalar(select(func.max(DrillRunRow.finished_at)).where(DrillRunRow.ok.is_(True)))
    failures = session.scalars(select(DrillRunRow).where(DrillRunRow.ok.is_(False)).order_by(DrillRunRow.finished_at.desc()).limit(5))
    out: dict[str, Any] = {
        "runs": int(session.scalar(select(func.count()).select_from(DrillRunRow)) or 0),
        "failed": int(session.scalar(select(func.count()).select_from(DrillRunRow).where(DrillRunRow.ok.is_(False))) or 0),
        "last_good": rfc3339(last_good) if last_good else None,
        "recent_failures": [
            {
                "backup": f.backup_name,
                "finished_at": rfc3339(f.finished_at),
                "failed_checks": _failed_checks(f.summary),
            }
            for f in failures
        ],
    }
    if rt is not None:
        now = rt.clock.now()
        out["max_age_days"] = rt.settings.drill_max_age_days
        out["overdue"] = last_good is None or now - last_good > dt.timedelta(days=rt.settings.drill_max_age_days)
    return out


def transfer_figures(session: Session, rt: Runtime, period: Period) -> dict[str, Any]:
    """Recipients abroad with their legal mechanism (PIPL Art. 38), and the cross-border volumes of
    the period's last year, counted from 1 January, with the tier they need (促进和规范数据跨境流动规定)."""
    rules = transfer_config.load(rt.settings.policies_dir)
    abroad = [
        {
            "name": r.name,
            "kind": r.kind,
            "region": r.region,
            "status": r.status,
            "mechanism": r.mechanism,
            "mechanism_valid_until": r.mechanism_valid_until.isoformat() if r.mechanism_valid_until else None,
            "purposes": [str(p) for p in r.purposes],
        }
        for r in session.scalars(select(RecipientRow).where(RecipientRow.region != rules.home_region).order_by(RecipientRow.name))
    ]
    year = period.end.year
    volume = session.get(VolumeRow, year)
    people = volume.people if volume else 0
    sensitive = volume.sensitive_people if volume else 0
    return {
        "home_region": rules.home_region,
        "recipients_abroad": abroad,
        "active_recipients_abroad": sum(1 for r in abroad if r["status"] == "active"),
        "year": year,
        "people_abroad": people,
        "sensitive_people_abroad": sensitive,
        "required_tier": transfer_thresholds.required_tier(people, sensitive, rules.thresholds),
        "thresholds": {
            "people_standard": rules.thresholds.people_standard,
            "people_assessment": rules.thresholds.people_assessment,
            "sensitive_standard": rules.thresholds.sensitive_standard,
            "sensitive_assessment": rules.thresholds.sensitive_assessment,
        },
    }


def incident_figures(session: Session) -> dict[str, Any]:
    return {
        "incidents": int(session.scalar(select(func.count()).select_from(IncidentRow)) or 0),
        "regulator_notified": int(
            session.scalar(select(func.count()).select_from(IncidentRow).where(IncidentRow.regulator_notified_at.is_not(None))) or 0
        ),
        "people_affected": int(session.scalar(select(func.count()).select_from(IncidentSubjectRow)) or 0),
        "people_notified": int(
            session.scalar(select(func.count()).select_from(IncidentSubjectRow).where(IncidentSubjectRow.notified_at.is_not(None))) or 0
        ),
    }


def thresholds(people: int, officers: int | None = None) -> dict[str, Any]:
    """PIPL Art. 52 and the CAC notice of 2025-07-18: an officer from 1,000,000 people; 合规审计管理办法
    Art. 12 / PIPL Art. 54: above 10,000,000 a compliance audit at least every 2 years.

    ``officers``: active staff accounts holding the protection-officer role, when known."""
    required = people >= OFFICER_THRESHOLD
    out: dict[str, Any] = {
        "people": people,
        "protection_officer_threshold": OFFICER_THRESHOLD,
        "protection_officer_required": required,
        "compliance_audit_threshold": AUDIT_THRESHOLD,
        "compliance_audit_every_two_years": people > AUDIT_THRESHOLD,
        "compliance_audit_interval_years": AUDIT_INTERVAL_YEARS if people > AUDIT_THRESHOLD else None,
    }
    if officers is not None:
        out["protection_officers_designated"] = officers
        out["protection_officer_met"] = not required or officers > 0
    return out


def _count_officers(session: Session) -> int:
    from lendshield.principals.models import PrincipalRow

    rows = session.scalars(select(PrincipalRow.roles).where(PrincipalRow.active.is_(True), PrincipalRow.kind == "staff"))
    return sum(1 for roles in rows if "protection_officer" in roles)


def keep_until(created_at: dt.datetime) -> dt.datetime:
    """The earliest time a report (with its impact-assessment drafts) may be deleted: 3 years on (PIPL Art. 56)."""
    try:
        return created_at.replace(year=created_at.year + KEEP_YEARS)
    except ValueError:  # 29 February
        return created_at.replace(year=created_at.year + KEEP_YEARS, month=3, day=1)


def compliance_report(
    session: Session, rt: Runtime, who: Principal, *, start: dt.date | None = None, end: dt.date | None = None
) -> dict[str, Any]:
    """Build, store (kept for at least 3 years, Art. 56) and log a compliance report for a period
    (by default from 1 January to today)."""
    if not who.roles & REPORT_ROLES:
        raise Forbidden("compliance reports are for the protection officer and auditors")
    period = Period.of(rt, start, end)
    now = rt.clock.now()
    report = {
        "generated_at": rfc3339(now),
        "period": period.as_dict(),
        "keep_until": rfc3339(keep_until(now)),
        "record_of_processing": record_of_processing(rt),
        "impact_assessments": impact_assessments(rt),
        "thresholds": thresholds(_count_people(session), _count_officers(session)),
        "rights": rights_figures(session, rt, period),
        "collection": collection_figures(session, period),
        "devices": device_figures(session, period),
        "drills": drill_figures(session, rt),
        "transfers": transfer_figures(session, rt, period),
        "incidents": incident_figures(session),
    }
    body = json.dumps(report, ensure_ascii=False, sort_keys=True)
    digest = hashlib.sha256(body.encode()).hexdigest()
    session.add(ReportRow(created_at=now, created_by=who.id, kind="compliance", sha256=digest, body=report, keep_until=keep_until(now)))
    ledger.append(session, ledger.Entry(time=now, actor=who.id, action="report.compliance", object="report", details={"sha256": digest}))
    return report


def stored_report(session: Session, who: Principal, report_id: int) -> tuple[dict[str, Any], str]:
    """A compliance report generated earlier, as it was stored, with its SHA-256 (in its ledger entry)."""
    if not who.roles & REPORT_ROLES:
        raise Forbidden("compliance reports are for the protection officer and auditors")
    row = session.get(ReportRow, report_id)
    if row is None or row.kind != "compliance":
        raise NotFound("no such report")
    return dict(row.body), row.sha256


def transparency_figures(session: Session) -> dict[str, Any]:
    """Aggregates a borrower choosing a lender can read (选择可靠的网贷平台); nothing about any one person."""
    drills = drill_figures(session)
    return {
        "devices": device_figures(session),
        "drills": {k: drills[k] for k in ("runs", "failed", "last_good")},
        "incidents": incident_figures(session),
    }


_ENV = Environment(loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"), autoescape=select_autoescape(default=True))


def to_html(report: dict[str, Any]) -> str:
    return _ENV.get_template("compliance.html").render(r=report)


def transparency_html(figures: dict[str, Any]) -> str:
    return _ENV.get_template("transparency.html").render(f=figures)
