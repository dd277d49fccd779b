"""Alerts and canaries over HTTP: the protection officer works alerts, auditors read them, nobody
else sees them; every status change is a ledger entry (PIPL Art. 52; R10, R16)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from lendshield.clock import FrozenClock
from lendshield.runtime import Runtime
from lendshield.watch import ledger_read
from tests.watch.conftest import alerts, run, write

OTHER_ROLES = ["collector", "collection_supervisor", "customer_service", "admin", "risk_officer", "device_operator", "loan_system"]


@pytest.fixture
def alert_id(rt: Runtime, make_actor) -> int:  # type: ignore[no-untyped-def]
    agent = make_actor("customer_service").principal
    write(rt, agent.id, [f"d-{i}" for i in range(5)], decision="deny")
    run(rt)
    (alert,) = alerts(rt)
    return alert.id


def _actions(rt: Runtime) -> list[str]:
    with rt.sessions() as session:
        return [r.action for r in ledger_read.after(session, -1, 10_000)]


def test_officer_and_auditor_read_alerts_others_are_refused(rt: Runtime, client: TestClient, make_actor, alert_id: int) -> None:  # type: ignore[no-untyped-def]
    for role in ("protection_officer", "auditor"):
        headers = make_actor(role).headers
        page = client.get("/v1/watch/alerts", headers=headers)
        assert page.status_code == 200
        assert [a["id"] for a in page.json()["items"]] == [alert_id]
        detail = client.get(f"/v1/watch/alerts/{alert_id}", headers=headers).json()
        assert detail["rule_id"] == "repeated-denials"
        assert [e["decision"] for e in detail["entries"]] == ["deny"] * 5
        assert detail["seqs"] == [e["seq"] for e in detail["entries"]]
        assert detail["trigger_count"] == 5
        assert all(e["action"] == "subject.read" and len(e["subject_ref"]) == 64 for e in detail["entries"])
    for role in OTHER_ROLES:
        headers = make_actor(role).headers
        assert client.get("/v1/watch/alerts", headers=headers).status_code == 403, role
        assert client.get(f"/v1/watch/alerts/{alert_id}", headers=headers).status_code == 403, role
    denied = client.get("/v1/watch/alerts", headers=make_actor("collector").headers)
    assert denied.headers["content-type"] == "application/problem+json"
    assert client.get("/v1/watch/alerts").status_code == 401
    assert _actions(rt).count("watch.alert.view") == 2  # looking at the evidence is logged


def test_filters_and_cursor_pages(rt: Runtime, client: TestClient, make_actor, clock: FrozenClock, alert_id: int) -> None:  # type: ignore[no-untyped-def]
    exporter = make_actor("risk_officer").principal
    write(rt, exporter.id, [None], action="transfer.export", details={"rows": 5000})
    for _ in range(3):
        write(rt, make_actor("customer_service").principal.id, [f"z-{i}" for i in range(5)], decision="deny")
    run(rt)
    po = make_actor("protection_officer").headers

    def ids(**params: object) -> list[int]:
        resp = client.get("/v1/watch/alerts", params=params, headers=po)
        assert resp.status_code == 200, resp.text
        return [a["id"] for a in resp.json()["items"]]

    assert len(ids()) == 5
    assert len(ids(rule="repeated-denials")) == 4
    (export,) = ids(severity="high")
    assert ids(rule="bulk-export") == [export]
    assert ids(actor=exporter.id) == [export]
    assert ids(status="resolved") == []
    first = client.get("/v1/watch/alerts", params={"limit": 2}, headers=po).json()
    assert len(first["items"]) == 2
    second = client.get("/v1/watch/alerts", params={"limit": 2, "cursor": first["next_cursor"]}, headers=po).json()
    third = client.get("/v1/watch/alerts", params={"limit": 2, "cursor": second["next_cursor"]}, headers=po).json()
    seen = [a["id"] for page in (first, second, third) for a in page["items"]]
    assert seen == sorted(seen, reverse=True) == sorted(set(ids()), reverse=True)
    assert third["next_cursor"] is None
    for bad in ({"status": "closed"}, {"severity": "urgent"}, {"cursor": "abc"}, {"limit": 0}, {"rule": "DROP TABLE"}):
        resp = client.get("/v1/watch/alerts", params=bad, headers=po)
        assert resp.status_code == 422, bad
        assert resp.headers["content-type"] == "application/problem+json"


def test_acknowledge_resolve_and_reopen(rt: Runtime, client: TestClient, make_actor, clock: FrozenClock, alert_id: int) -> None:  # type: ignore[no-untyped-def]
    po = make_actor("protection_officer")
    url = f"/v1/watch/alerts/{alert_id}"
    for role in ["auditor", *OTHER_ROLES]:
        assert client.post(f"{url}/acknowledge", json={"note": "x"}, headers=make_actor(role).headers).status_code == 403, role
    assert client.post(f"{url}/acknowledge", json={"note": "   "}, headers=po.headers).status_code == 422
    assert client.post(f"{url}/acknowledge", json={"note": "ok", "extra": 1}, headers=po.headers).status_code == 422
    assert client.post("/v1/watch/alerts/999999/acknowledge", json={"note": "x"}, headers=po.headers).status_code == 404
    assert alerts(rt)[0].status == "open"  # refusals changed nothing
    ack = client.post(f"{url}/acknowledge", json={"note": "calling the agent's team lead"}, headers=po.headers)
    assert ack.status_code == 200
    assert ack.json()["status"] == "acknowledged"
    assert client.post(f"{url}/acknowledge", json={"note": "again"}, headers=po.headers).status_code == 409
    done = client.post(f"{url}/resolve", json={"note": "training case, no data left the company"}, headers=po.headers)
    assert done.json()["status"] == "resolved"
    assert client.post(f"{url}/resolve", json={"note": "again"}, headers=po.headers).status_code == 409
    detail = client.get(url, headers=po.headers).json()
    assert [(n["from_status"], n["to_status"], n["by"]) for n in detail["notes"]] == [
        ("open", "acknowledged", po.principal.id),
        ("acknowledged", "resolved", po.principal.id),
    ]
    actions = _actions(rt)
    assert actions.count("watch.alert.acknowledge") == actions.count("watch.alert.resolve") == 1
    # More refusals in the same window: the officer closed it on what they knew then; it reopens.
    clock.advance(timedelta(minutes=2))
    write(rt, alerts(rt)[0].actor, ["d-late"], decision="deny")
    run(rt)
    (alert,) = alerts(rt)
    assert alert.status == "open"
    assert "watch.alert.reopen" in _actions(rt)


def test_canaries_and_run_over_http(rt: Runtime, client: TestClient, make_actor) -> None:  # type: ignore[no-untyped-def]
    po = make_actor("protection_officer").headers
    made = client.post("/v1/watch/canaries", json={"count": 2, "label": "q4"}, headers=po)
    assert made.status_code == 201
    assert sorted(c["label"] for c in made.json()) == ["q4", "q4"]
    assert set(made.json()[0]) == {"subject_id", "label", "created_at", "registered_seq"}  # never the values
    listed = client.get("/v1/watch/canaries", headers=po).json()
    assert {c["subject_id"] for c in listed} == {c["subject_id"] for c in made.json()}
    for role in ["auditor", *OTHER_ROLES]:
        headers = make_actor(role).headers
        assert client.post("/v1/watch/canaries", json={"count": 1}, headers=headers).status_code == 403, role
        assert client.get("/v1/watch/canaries", headers=headers).status_code == 403, role
    for bad in ({"count": 0}, {"count": 201}, {"count": 1, "label": ""}, {"count": 1, "values": ["x"]}):
        assert client.post("/v1/watch/canaries", json=bad, headers=po).status_code == 422, bad
    assert len(client.get("/v1/watch/canaries", headers=po).json()) == 2
    canary = made.json()[0]["subject_id"]
    risk = make_actor("risk_officer")
    assert client.get(f"/v1/subjects/{canary}", headers={**risk.headers, "X-Purpose": "fraud_prevention"}).status_code == 200
    for role in ("collector", "customer_service", "auditor"):
        assert client.post("/v1/watch/run", headers=make_actor(role).headers).status_code == 403
    ran = client.post("/v1/watch/run", headers=po)
    assert ran.status_code == 200
    assert ran.json()["alerts_raised"] == 1
    (alert,) = client.get("/v1/watch/alerts", params={"rule": "canary-touch"}, headers=po).json()["items"]
    assert (alert["severity"], alert["actor"]) == ("high", risk.principal.id)
