"""The gate over HTTP: every denial in the decision table denies for each role, conditions on case
state, unknown purposes, dry runs, and a ledger entry for every decision (denials too)."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from lendshield.ledger.models import LedgerEntryRow
from lendshield.loans.service import LoanEvent
from lendshield.principals.service import RESERVED_ROLES
from lendshield.runtime import Runtime
from tests.policy import gate_support as gs
from tests.policy.test_decision_table import CATALOG, EXPECTED

CONSENT_PURPOSES = {
    "credit_assessment": ["purpose", "sensitive"],
    "device_management": ["purpose"],
    "marketing": ["purpose", "third_party"],
    "testimonials": ["purpose", "public_disclosure"],
    "overseas_support": ["purpose", "cross_border"],
}


def _denied_by_table(role: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for r, purpose, field, effect, _cond, _rule in EXPECTED:
        if r == role and effect == "deny":
            out[purpose].append(field)
    return out


def _ready_subject(rt: Runtime, client: TestClient, collector_id: str, cs_headers: dict[str, str]) -> str:
    """A borrower for whom every condition holds and every consent is given: only the policy can deny."""
    sid = gs.borrower(rt)
    for purpose, kinds in CONSENT_PURPOSES.items():
        for kind in kinds:
            gs.give(rt, sid, purpose, kind)
    gs.loan(
        rt,
        sid,
        "L-1",
        ("e1", LoanEvent(kind="overdue", overdue_days=40)),
        ("e2", LoanEvent(kind="assign", collector_id=collector_id)),
        ("e3", LoanEvent(kind="device_financed", asset_id="A-1")),
    )
    resp = client.post("/v1/tickets", json={"subject_id": sid}, headers=cs_headers)
    assert resp.status_code == 201, resp.text
    return sid


def _rules_in_ledger(rt: Runtime, action: str) -> list[str]:
    with rt.sessions() as session:
        rows = session.scalars(select(LedgerEntryRow).where(LedgerEntryRow.action == action).order_by(LedgerEntryRow.seq)).all()
        return [json.loads(r.body).get("rule_id", "") for r in rows]


@pytest.mark.parametrize("role", sorted(set(CATALOG.roles) - RESERVED_ROLES))
def test_every_denial_denies_over_http(role: str, rt: Runtime, client: TestClient, make_actor) -> None:  # type: ignore[no-untyped-def]
    actor = make_actor(role)
    cs = make_actor("customer_service")
    sid = _ready_subject(rt, client, actor.principal.id, cs.headers)
    for purpose, fields in sorted(_denied_by_table(role).items()):
        resp = client.post(
            f"/v1/subjects/{sid}/read",
            json={"fields": fields, "clear": True, "reason": "test"},
            headers=actor.headers | {"X-Purpose": purpose},
        )
        assert resp.status_code == 403, (purpose, resp.text)
        assert resp.json()["code"] == "read-denied"
        for value in gs.ADULT.values():
            assert value not in resp.text
    allowed = [r for r in EXPECTED if r[0] == role and r[3] != "deny"]
    for _role, purpose, field, effect, _cond, rule in allowed:
        resp = client.post(
            f"/v1/subjects/{sid}/read",
            json={"fields": [field], "clear": True, "reason": "test"},
            headers=actor.headers | {"X-Purpose": purpose},
        )
        assert resp.status_code == 200, (purpose, field, resp.text)
        got = resp.json()["fields"][field]
        assert (got["shown"], got["rule_id"]) == (effect, rule)


def test_conditions_follow_case_state(rt: Runtime, client: TestClient, make_actor) -> None:  # type: ignore[no-untyped-def]
    collector = make_actor("collector")
    other = make_actor("collector")
    sid = gs.borrower(rt)
    gs.loan(rt, sid, "L-9")
    h = collector.headers | {"X-Purpose": "collection"}

    def read(headers: dict[str, str]) -> int:
        return client.get(f"/v1/subjects/{sid}", params={"fields": ["name", "mobile"]}, headers=headers).status_code

    assert read(h) == 403  # not overdue, not assigned
    gs.loan(rt, sid, "L-9", ("k1", LoanEvent(kind="overdue", overdue_days=10)))
    assert read(h) == 403  # overdue but assigned to nobody
    gs.loan(rt, sid, "L-9", ("k2", LoanEvent(kind="assign", collector_id=collector.principal.id)))
    assert read(h) == 200
    assert read(other.headers | {"X-Purpose": "collection"}) == 403  # assigned to someone else
    gs.loan(rt, sid, "L-9", ("k3", LoanEvent(kind="payoff")))
    assert read(h) == 403  # paid off: access ends at once
    assert _rules_in_ledger(rt, "subject.read")[-1] == "collector-assigned,collector-assigned-phone"


def test_support_needs_open_ticket(rt: Runtime, client: TestClient, make_actor) -> None:  # type: ignore[no-untyped-def]
    cs = make_actor("customer_service")
    sid = gs.borrower(rt)
    h = cs.headers | {"X-Purpose": "customer_support"}
    assert client.get(f"/v1/subjects/{sid}", params={"fields": ["mobile"]}, headers=h).status_code == 403
    ticket = client.post("/v1/tickets", json={"subject_id": sid}, headers=cs.headers).json()["id"]
    ok = client.get(f"/v1/subjects/{sid}", params={"fields": ["mobile"]}, headers=h)
    assert ok.status_code == 200
    assert ok.json()["fields"]["mobile"]["shown"] == "mask"
    assert client.post(f"/v1/tickets/{ticket}/close", headers=cs.headers).status_code == 204
    assert client.get(f"/v1/subjects/{sid}", params={"fields": ["mobile"]}, headers=h).status_code == 403


def test_device_operator_only_for_financed_devices(rt: Runtime, client: TestClient, make_actor) -> None:  # type: ignore[no-untyped-def]
    op = make_actor("device_operator")
    sid = gs.borrower(rt)
    gs.give(rt, sid, "device_management")
    gs.loan(rt, sid, "L-5")
    h = op.headers | {"X-Purpose": "device_management"}
    assert client.get(f"/v1/subjects/{sid}", params={"fields": ["device_imei"]}, headers=h).status_code == 403
    gs.loan(rt, sid, "L-5", ("d1", LoanEvent(kind="device_financed", asset_id="A-5")))
    assert client.get(f"/v1/subjects/{sid}", params={"fields": ["device_imei"]}, headers=h).status_code == 200


def test_unknown_purpose_is_refused_and_recorded(rt: Runtime, client: TestClient, make_actor) -> None:  # type: ignore[no-untyped-def]
    officer = make_actor("protection_officer")
    sid = gs.borrower(rt)
    resp = client.get(f"/v1/subjects/{sid}", headers=officer.headers | {"X-Purpose": "curiosity"})
    assert resp.status_code == 400
    assert resp.json()["code"] == "unknown-purpose"
    assert resp.headers["content-type"] == "application/problem+json"
    assert _rules_in_ledger(rt, "subject.read") == ["unknown-purpose"]
    missing = client.get(f"/v1/subjects/{sid}", headers=officer.headers)
    assert missing.status_code == 400


def test_denied_and_allowed_reads_are_in_the_ledger(rt: Runtime, client: TestClient, make_actor) -> None:  # type: ignore[no-untyped-def]
    auditor = make_actor("auditor")
    sid = gs.borrower(rt)
    h = auditor.headers | {"X-Purpose": "regulatory_reporting"}
    assert client.get(f"/v1/subjects/{sid}", params={"fields": ["mobile"]}, headers=h).status_code == 403
    assert client.get(f"/v1/subjects/{sid}", params={"fields": ["name"]}, headers=h).status_code == 200
    assert _rules_in_ledger(rt, "subject.read") == ["purpose-scope:regulatory_reporting", "auditor-reporting"]


def test_dry_run(rt: Runtime, client: TestClient, make_actor) -> None:  # type: ignore[no-untyped-def]
    officer = make_actor("protection_officer")
    cs = make_actor("customer_service")
    sid = gs.borrower(rt)
    resp = client.post(
        "/v1/policy/decide",
        json={"purpose": "collection", "fields": ["mobile", "location"], "roles": ["collector"], "clear": True},
        headers=officer.headers,
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()["decisions"]
    assert body["mobile"] == {
        "effect": "deny",
        "rule_id": "collector-assigned-phone",
        "reason": "condition not met: collector_assigned_overdue",
    }
    assert body["location"]["rule_id"] == "purpose-scope:collection"  # PIPL Art. 6 comes first
    marketing = client.post("/v1/policy/decide", json={"purpose": "marketing", "fields": ["mobile"], "subject_id": sid}, headers=cs.headers)
    assert marketing.json()["decisions"]["mobile"]["rule_id"] == "consent-missing:marketing"
    other_roles = client.post(
        "/v1/policy/decide", json={"purpose": "collection", "fields": ["name"], "roles": ["collector"]}, headers=cs.headers
    )
    assert other_roles.status_code == 403
    with rt.sessions() as session:
        assert session.scalars(select(LedgerEntryRow).where(LedgerEntryRow.action == "subject.read")).first() is None
