"""The vault over HTTP: create, masked and clear reads, correction, lookup, tokens, shred."""

from __future__ import annotations

from fastapi.testclient import TestClient

BORROWER = {
    "name": "张三",
    "resident_id": "11010519491231002X",
    "mobile": "13812345678",
    "bank_card": "6222020200112233446",
    "address": "北京市朝阳区建国路88号",
}
PURPOSE = {"X-Purpose": "loan_servicing"}
RIGHTS = {"X-Purpose": "rights_request"}  # the protection officer reads clear text to answer a rights request


def _create(client: TestClient, headers: dict[str, str]) -> str:
    resp = client.post("/v1/subjects", json={"fields": BORROWER}, headers=headers)
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


def test_masked_read_round_trip(client: TestClient, make_actor) -> None:  # type: ignore[no-untyped-def]
    writer = make_actor("loan_system")
    reader = make_actor("customer_service")
    sid = _create(client, writer.headers)
    resp = client.get(f"/v1/subjects/{sid}", headers=reader.headers | PURPOSE)
    assert resp.status_code == 200, resp.text
    fields = resp.json()["fields"]
    assert fields["resident_id"]["value"] == "110105********002X"
    assert fields["mobile"]["value"] == "138****5678"
    assert fields["name"]["value"] == "张*"
    assert fields["bank_card"]["value"] == "**** 3446"
    assert fields["address"]["value"] == "北京市***"
    assert all(f["shown"] == "mask" for f in fields.values())


def test_clear_read_needs_reason_and_role(client: TestClient, make_actor) -> None:  # type: ignore[no-untyped-def]
    writer = make_actor("loan_system")
    officer = make_actor("protection_officer")
    sid = _create(client, writer.headers)
    no_reason = client.post(f"/v1/subjects/{sid}/read", json={"clear": True, "fields": ["mobile"]}, headers=officer.headers | RIGHTS)
    assert no_reason.status_code == 400
    assert no_reason.headers["content-type"] == "application/problem+json"
    ok = client.post(
        f"/v1/subjects/{sid}/read",
        json={"clear": True, "fields": ["mobile"], "reason": "rights request 7"},
        headers=officer.headers | RIGHTS,
    )
    assert ok.status_code == 200
    assert ok.json()["fields"]["mobile"]["value"] == "+8613812345678"
    # The same officer gets nothing for a purpose the policy does not give the role (the gate is real).
    servicing = client.post(
        f"/v1/subjects/{sid}/read",
        json={"clear": True, "fields": ["mobile"], "reason": "rights request 7"},
        headers=officer.headers | PURPOSE,
    )
    assert servicing.status_code == 403


def test_missing_purpose_is_400(client: TestClient, make_actor) -> None:  # type: ignore[no-untyped-def]
    writer = make_actor("loan_system")
    sid = _create(client, writer.headers)
    resp = client.get(f"/v1/subjects/{sid}", headers=writer.headers)
    assert resp.status_code == 400
    assert "X-Purpose" in resp.json()["detail"]


def test_no_token_is_401(client: TestClient) -> None:
    resp = client.get("/v1/subjects/00000000-0000-0000-0000-000000000000", headers=PURPOSE)
    assert resp.status_code == 401
    assert resp.json()["code"] == "invalid-token"


def test_invalid_value_names_path_not_value(client: TestClient, make_actor) -> None:  # type: ignore[no-untyped-def]
    writer = make_actor("loan_system")
    resp = client.post("/v1/subjects", json={"fields": {"resident_id": "110105194912310021"}}, headers=writer.headers)
    assert resp.status_code == 422
    body = resp.json()
    assert body["path"] == "fields.resident_id"
    assert "110105194912310021" not in resp.text


def test_lookup_tokens_and_shred(client: TestClient, make_actor) -> None:  # type: ignore[no-untyped-def]
    writer = make_actor("loan_system")
    officer = make_actor("protection_officer")
    sid = _create(client, writer.headers)
    found = client.post("/v1/subjects/lookup", json={"field": "mobile", "value": "138 1234 5678"}, headers=writer.headers | PURPOSE)
    assert found.json()["subject_ids"] == [sid]
    tok = client.post(f"/v1/subjects/{sid}/tokens", json={"field": "mobile"}, headers=writer.headers | PURPOSE).json()["token"]
    again = client.post(f"/v1/subjects/{sid}/tokens", json={"field": "mobile"}, headers=writer.headers | PURPOSE).json()["token"]
    assert tok == again
    assert tok.startswith("tok_")
    shredded = client.post(f"/v1/subjects/{sid}/shred", json={"reason": "deletion request"}, headers=officer.headers)
    assert shredded.status_code == 204
    gone = client.get(f"/v1/subjects/{sid}", headers=officer.headers | RIGHTS)
    assert gone.status_code == 410
    assert "deletion request" in gone.json()["detail"]
    lookup = client.post("/v1/subjects/lookup", json={"field": "mobile", "value": "13812345678"}, headers=writer.headers | PURPOSE)
    assert lookup.json()["subject_ids"] == []
