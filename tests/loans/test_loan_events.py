"""Loan state from the loan system: upsert, idempotent events, loan_system only, bad input."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from lendshield.loans.models import LoanEventRow
from lendshield.runtime import Runtime
from tests.policy import gate_support as gs


def _events(rt: Runtime) -> int:
    with rt.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(LoanEventRow)) or 0)


def test_upsert_and_events_are_idempotent(rt: Runtime, client: TestClient, make_actor) -> None:  # type: ignore[no-untyped-def]
    system = make_actor("loan_system")
    collector = make_actor("collector")
    sid = gs.borrower(rt)
    created = client.put("/v1/loans/L-100", json={"borrower_id": sid, "principal_amount": "8000.00"}, headers=system.headers)
    assert created.status_code == 201, created.text
    assert client.put("/v1/loans/L-100", json={"borrower_id": sid, "principal_amount": "9000"}, headers=system.headers).status_code == 200
    h = system.headers | {"Idempotency-Key": "evt-1"}
    first = client.post("/v1/loans/L-100/events", json={"kind": "overdue", "overdue_days": 31}, headers=h)
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "overdue"
    assert first.json()["replayed"] is False
    again = client.post("/v1/loans/L-100/events", json={"kind": "overdue", "overdue_days": 31}, headers=h)
    assert again.json()["replayed"] is True
    assert _events(rt) == 1
    clash = client.post("/v1/loans/L-100/events", json={"kind": "overdue", "overdue_days": 5}, headers=h)
    assert clash.status_code == 409
    assert clash.json()["code"] == "event-key-reused"
    by_id = {"id": "evt-2", "kind": "assign", "collector_id": collector.principal.id}
    assert (
        client.post("/v1/loans/L-100/events", json=by_id, headers=system.headers).json()["assigned_collector_id"] == collector.principal.id
    )
    assert client.post("/v1/loans/L-100/events", json=by_id, headers=system.headers).json()["replayed"] is True
    pay = {"id": "evt-3", "kind": "payment", "amount": "500.00", "overdue_days": 0}
    assert client.post("/v1/loans/L-100/events", json=pay, headers=system.headers).json()["status"] == "current"
    off = client.post("/v1/loans/L-100/events", json={"id": "evt-4", "kind": "payoff"}, headers=system.headers).json()
    assert off["status"] == "paid_off"
    assert off["assigned_collector_id"] is None
    assert _events(rt) == 4


def test_only_loan_system_pushes_state(rt: Runtime, client: TestClient, make_actor) -> None:  # type: ignore[no-untyped-def]
    sid = gs.borrower(rt)
    gs.loan(rt, sid, "L-7")
    for role in ("collector", "customer_service", "admin", "protection_officer"):
        actor = make_actor(role)
        resp = client.post("/v1/loans/L-7/events", json={"id": "x", "kind": "payoff"}, headers=actor.headers)
        assert resp.status_code == 403, role
        assert client.put("/v1/loans/L-7", json={"borrower_id": sid, "principal_amount": "1"}, headers=actor.headers).status_code == 403
    assert _events(rt) == 0


def test_bad_events_change_nothing(rt: Runtime, client: TestClient, make_actor) -> None:  # type: ignore[no-untyped-def]
    system = make_actor("loan_system")
    sid = gs.borrower(rt)
    gs.loan(rt, sid, "L-8")
    no_key = client.post("/v1/loans/L-8/events", json={"kind": "payoff"}, headers=system.headers)
    assert no_key.status_code == 422
    unknown = client.post("/v1/loans/NOPE/events", json={"id": "a", "kind": "payoff"}, headers=system.headers)
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "loan-not-found"
    bad_kind = client.post("/v1/loans/L-8/events", json={"id": "b", "kind": "forgive"}, headers=system.headers)
    assert bad_kind.status_code == 422
    missing_days = client.post("/v1/loans/L-8/events", json={"id": "c", "kind": "overdue"}, headers=system.headers)
    assert missing_days.status_code == 422
    no_subject = client.put(
        "/v1/loans/L-9", json={"borrower_id": "0" * 8 + "-0000-0000-0000-" + "0" * 12, "principal_amount": "10"}, headers=system.headers
    )
    assert no_subject.status_code == 404
    assert _events(rt) == 0
    assert client.get("/v1/loans/L-8", headers=system.headers).json()["status"] == "current"
