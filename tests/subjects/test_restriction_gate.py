"""The gate enforces a restriction: while one is in force, every purpose but handling the person's
own requests is refused with rule `restricted` (PIPL Art. 44; Art. 47 storage only under a hold)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.rights import support as s


def test_a_restricted_person_is_read_only_for_their_own_requests(client: TestClient, make_actor: Any, rt: Any) -> None:
    me = s.person(rt)
    officer, service = make_actor("protection_officer"), make_actor("customer_service")
    ticket = client.post("/v1/tickets", json={"subject_id": me.subject_id}, headers=service.headers)
    assert ticket.status_code == 201

    def read(actor: Any, purpose: str) -> Any:
        return client.post(f"/v1/subjects/{me.subject_id}/read", json={"fields": ["name"]}, headers=actor.headers | {"X-Purpose": purpose})

    assert read(service, "customer_support").status_code == 200
    req = s.file(client, me.headers, "restriction", text="I dispute how my data is used")
    assert client.post(f"/v1/rights/requests/{req['id']}/fulfil", json={}, headers=officer.headers).status_code == 200
    refused = read(service, "customer_support")
    assert refused.status_code == 403
    assert refused.json()["rules"] == ["restricted"]
    assert "storage only" in refused.json()["detail"]
    assert read(officer, "rights_request").status_code == 200  # the person's own requests still proceed
    (hold,) = client.get("/v1/rights/holds", params={"subject_id": me.subject_id}, headers=officer.headers).json()
    client.post(f"/v1/rights/holds/{hold['id']}/lift", json={"reason": "the person lifted the restriction"}, headers=officer.headers)
    assert read(service, "customer_support").status_code == 200
