"""The recipient registry over HTTP (PIPL Arts. 21, 23, 38): the protection officer writes, auditors read, all logged."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from lendshield.runtime import Runtime
from tests.transfers.support import ABROAD, body, entries, make_recipient, recipient_body


def test_officer_registers_changes_and_retires_a_recipient(client: TestClient, make_actor: Any, rt: Runtime) -> None:
    officer = make_actor("protection_officer")
    rid = make_recipient(client, officer.headers)
    got = client.get(f"/v1/transfers/recipients/{rid}", headers=officer.headers).json()
    assert got["abroad"] is False
    assert got["purposes"] == ["marketing"]
    assert got["status"] == "active"

    changed = client.put(f"/v1/transfers/recipients/{rid}", json=recipient_body(contract_ref="DPA-2027-001"), headers=officer.headers)
    assert changed.status_code == 200
    assert changed.json()["contract_ref"] == "DPA-2027-001"
    abroad = client.post("/v1/transfers/recipients", json=ABROAD, headers=officer.headers)
    assert abroad.status_code == 201
    assert abroad.json()["abroad"] is True

    auditor = make_actor("auditor")
    listed = client.get("/v1/transfers/recipients", headers=auditor.headers)
    assert listed.status_code == 200
    assert {r["id"] for r in listed.json()} == {rid, abroad.json()["id"]}

    retired = client.delete(f"/v1/transfers/recipients/{rid}", headers=officer.headers)
    assert retired.status_code == 200
    assert retired.json()["status"] == "retired"
    assert [r["id"] for r in client.get("/v1/transfers/recipients", headers=auditor.headers).json()] == [abroad.json()["id"]]
    assert len(client.get("/v1/transfers/recipients?include_retired=true", headers=auditor.headers).json()) == 2
    again = client.put(f"/v1/transfers/recipients/{rid}", json=recipient_body(), headers=officer.headers)
    assert again.status_code == 409
    assert again.json()["code"] == "recipient-retired"

    # Every change is in the ledger, without personal data (a recipient is a company).
    assert [body(e)["object"] for e in entries(rt, "transfer.recipient.create")] == [f"recipient:{rid}", f"recipient:{abroad.json()['id']}"]
    (update,) = entries(rt, "transfer.recipient.update")
    assert update.details is not None
    assert update.details["changed"] == ["contract_ref"]
    assert len(entries(rt, "transfer.recipient.retire")) == 1


def test_only_the_officer_changes_the_registry_and_only_officer_and_auditors_read_it(
    client: TestClient, make_actor: Any, rt: Runtime
) -> None:
    officer = make_actor("protection_officer")
    rid = make_recipient(client, officer.headers)
    for role in ("customer_service", "collector", "collection_supervisor", "auditor", "admin", "risk_officer", "loan_system"):
        actor = make_actor(role)
        for res in (
            client.post("/v1/transfers/recipients", json=recipient_body(), headers=actor.headers),
            client.put(f"/v1/transfers/recipients/{rid}", json=recipient_body(name="x"), headers=actor.headers),
            client.delete(f"/v1/transfers/recipients/{rid}", headers=actor.headers),
        ):
            assert res.status_code == 403, role
            assert res.headers["content-type"] == "application/problem+json"
        reads = (
            client.get("/v1/transfers/recipients", headers=actor.headers),
            client.get(f"/v1/transfers/recipients/{rid}", headers=actor.headers),
        )
        assert {r.status_code for r in reads} == ({200} if role == "auditor" else {403}), role
    assert len(entries(rt, "transfer.recipient.create")) == 1
    assert entries(rt, "transfer.recipient.update") == entries(rt, "transfer.recipient.retire") == []
    assert client.get("/v1/transfers/recipients").status_code == 401


BAD: list[tuple[dict[str, Any], str]] = [
    ({"region": "China"}, "region"),
    ({"purposes": ["no_such_purpose"]}, "no such purpose"),
    ({"categories": ["no_such_category"]}, "no such category"),
    ({"kind": "friend"}, "kind"),
    ({"region": "SG"}, "mechanism"),  # abroad without a mechanism (PIPL Art. 38)
    ({"mechanism": "standard_contract"}, "mechanism"),  # a mechanism for a domestic recipient makes no sense
    ({**ABROAD, "mechanism_valid_until": "2025-12-31"}, "mechanism_valid_until"),
    ({**ABROAD, "mechanism_evidence": None}, "mechanism_evidence"),
    ({"contact": "   "}, "contact"),
    ({"unknown_key": 1}, "unknown_key"),
]


def test_bad_recipients_are_refused_and_nothing_is_written(client: TestClient, make_actor: Any, rt: Runtime) -> None:
    officer = make_actor("protection_officer")
    for change, words in BAD:
        res = client.post("/v1/transfers/recipients", json=recipient_body(**change), headers=officer.headers)
        assert res.status_code == 422, (change, res.text)
        assert res.headers["content-type"] == "application/problem+json"
        assert words in res.text, (change, res.text)
    assert client.get("/v1/transfers/recipients", headers=officer.headers).json() == []
    assert entries(rt, "transfer.recipient.create") == []


def test_unknown_recipient_is_404(client: TestClient, make_actor: Any) -> None:
    officer = make_actor("protection_officer")
    res = client.get("/v1/transfers/recipients/00000000-0000-0000-0000-000000000000", headers=officer.headers)
    assert res.status_code == 404
    assert res.json()["code"] == "recipient-not-found"
