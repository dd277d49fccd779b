"""Compliance reports (PIPL Arts. 52-56) and the public transparency figures."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from lendshield.ledger.models import LedgerEntryRow
from lendshield.ops import reports
from lendshield.ops.models import ReportRow
from lendshield.runtime import Runtime


@pytest.mark.parametrize(
    ("people", "officer", "audit"),
    [(999_999, False, False), (1_000_000, True, False), (10_000_000, True, False), (10_000_001, True, True)],
)
def test_thresholds_pipl_art52_and_compliance_audit_rules(people: int, officer: bool, audit: bool) -> None:
    t = reports.thresholds(people)
    assert t["protection_officer_required"] is officer
    assert t["compliance_audit_every_two_years"] is audit
    assert reports.thresholds(people, 0)["protection_officer_met"] is not officer
    assert reports.thresholds(people, 1)["protection_officer_met"] is True


def test_compliance_report_is_stored_logged_and_lists_art55_cases(rt: Runtime, client: TestClient, make_actor) -> None:  # type: ignore[no-untyped-def]
    officer = make_actor("protection_officer")
    resp = client.get("/v1/reports/compliance", headers=officer.headers)
    assert resp.status_code == 200
    body = resp.json()
    purposes = {p["purpose"] for p in body["record_of_processing"]}
    assert {"loan_servicing", "collection", "credit_assessment"} <= purposes
    cases = {c["purpose"]: c for c in body["impact_assessments"]}
    assert any("sensitive personal information" in t for c in cases.values() for t in c["triggers"])
    html = client.get("/v1/reports/compliance?format=html", headers=officer.headers)
    assert html.text.startswith("<!doctype html>")
    with rt.sessions() as session:
        assert session.scalars(select(ReportRow)).first() is not None
        assert "report.compliance" in session.scalars(select(LedgerEntryRow.action)).all()


@pytest.mark.parametrize("role", ["collector", "customer_service", "admin", "device_operator", "loan_system"])
def test_compliance_report_denied_to_other_roles(client: TestClient, make_actor, role: str) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/v1/reports/compliance", headers=make_actor(role).headers).status_code == 403


def test_transparency_is_public_and_aggregate(client: TestClient) -> None:
    resp = client.get("/v1/transparency")
    assert resp.status_code == 200
    assert set(resp.json()) == {"devices", "drills", "incidents"}
    page = client.get("/transparency")
    assert "透明度报告" in page.text
