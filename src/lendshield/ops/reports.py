"""Compliance reports (JSON and HTML) and the public transparency figures.

- Record of processing activities, from the catalog and the purposes (PIPL Arts. 17, 51).
- Impact-assessment drafts for each case PIPL Art. 55 requires: sensitive data, automated
  decisions, provision to others, transfers abroad (kept at least 3 years, Art. 56).
- Threshold checks: a protection officer from 1,000,000 people (Art. 52 and the CAC's 2025
  notice); a compliance audit at least every 2 years above 10,000,000 (合规审计管理办法).
- Device commands and payment-to-unlock latency, restore drills, incidents.
"""

from __future__ import annotations

import hashlib
import json
import statistics
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lendshield import ledger
from lendshield.devices.models import CommandRequestRow, CommandRow
from lendshield.errors import Forbidden
from lendshield.ledger.entry import rfc3339
from lendshield.loans.models import LoanEventRow
from lendshield.ops.models import DrillRunRow, IncidentRow, IncidentSubjectRow, ReportRow
from lendshield.principals import Principal
from lendshield.runtime import Runtime

REPORT_ROLES = frozenset({"protection_officer", "auditor"})
OFFICER_THRESHOLD = 1_000_000
AUDIT_THRESHOLD = 10_000_000


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


def device_figures(session: Session) -> dict[str, Any]:
    by_command = dict(session.execute(select(CommandRow.command, func.count()).group_by(CommandRow.command)).all())
    requests = dict(session.execute(select(CommandRequestRow.status, func.count()).group_by(CommandRequestRow.status)).all())
    latencies = []
    for unlock in session.scalars(select(CommandRow).where(CommandRow.command == "unlock", CommandRow.acked_at.is_not(None))):
        payment = session.scalar(
            select(func.max(LoanEventRow.received_at))
            .join(CommandRow, CommandRow.id == unlock.id)
            .where(LoanEventRow.kind == "payment", LoanEventRow.received_at <= unlock.issued_at)
        )
        start = payment or unlock.issued_at
        assert unlock.acked_at is not None
        latencies.append((unlock.acked_at - start).total_seconds())
    return {
        "commands": {str(k): int(v) for k, v in by_command.items()},
        "lock_requests": {str(k): int(v) for k, v in requests.items()},
        "payment_to_unlock_seconds": {
            "count": len(latencies),
            "median": statistics.median(latencies) if latencies else None,
            "max": max(latencies) if latencies else None,
        },
    }


def drill_figures(session: Session) -> dict[str, Any]:
    last_good = session.scalar(select(func.max(DrillRunRow.finished_at)).where(DrillRunRow.ok.is_(True)))
    return {
        "runs": int(session.scalar(select(func.count()).select_from(DrillRunRow)) or 0),
        "failed": int(session.scalar(select(func.count()).select_from(DrillRunRow).where(DrillRunRow.ok.is_(False))) or 0),
        "last_good": rfc3339(last_good) if last_good else None,
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


def thresholds(people: int) -> dict[str, Any]:
    return {
        "people": people,
        "protection_officer_required": people >= OFFICER_THRESHOLD,
        "compliance_audit_every_two_years": people > AUDIT_THRESHOLD,
    }


def compliance_report(session: Session, rt: Runtime, who: Principal) -> dict[str, Any]:
    """Build, store (kept for at least 3 years, Art. 56) and log a compliance report."""
    if not who.roles & REPORT_ROLES:
        raise Forbidden("compliance reports are for the protection officer and auditors")
    report = {
        "generated_at": rfc3339(rt.clock.now()),
        "record_of_processing": record_of_processing(rt),
        "impact_assessments": impact_assessments(rt),
        "thresholds": thresholds(_count_people(session)),
        "devices": device_figures(session),
        "drills": drill_figures(session),
        "incidents": incident_figures(session),
    }
    body = json.dumps(report, ensure_ascii=False, sort_keys=True)
    digest = hashlib.sha256(body.encode()).hexdigest()
    session.add(ReportRow(created_at=rt.clock.now(), created_by=who.id, kind="compliance", sha256=digest, body=report))
    ledger.append(
        session, ledger.Entry(time=rt.clock.now(), actor=who.id, action="report.compliance", object="report", details={"sha256": digest})
    )
    return report


def transparency_figures(session: Session) -> dict[str, Any]:
    """Aggregates a borrower choosing a lender can read (选择可靠的网贷平台); nothing about any one person."""
    return {"devices": device_figures(session), "drills": drill_figures(session), "incidents": incident_figures(session)}


_ENV = Environment(loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"), autoescape=select_autoescape(default=True))


def to_html(report: dict[str, Any]) -> str:
    return _ENV.get_template("compliance.html").render(r=report)


def transparency_html(figures: dict[str, Any]) -> str:
    return _ENV.get_template("transparency.html").render(f=figures)
