"""HTTP: /v1/dlp/scan and /v1/dlp/redact answer with masked values only, errors as problem+json."""

from __future__ import annotations

import random

from fastapi.testclient import TestClient

from lendshield.dlp import synthetic as syn

RID = syn.resident_id(random.Random(9))


def test_scan_returns_masked_findings(client: TestClient, make_actor) -> None:  # type: ignore[no-untyped-def]
    actor = make_actor("customer_service")
    text = f"借款人：张伟，身份证号 {RID}"
    answer = client.post("/v1/dlp/scan", json={"text": text}, headers=actor.headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["count"] == 2
    found = {f["type"]: f for f in body["findings"]}
    assert text[found["resident_id"]["start"] : found["resident_id"]["end"]] == RID
    assert found["resident_id"]["masked"] == f"{RID[:6]}********{RID[-4:]}"
    assert found["resident_id"]["validator"].startswith("GB 11643-1999")
    assert RID not in answer.text


def test_redact_modes(client: TestClient, make_actor) -> None:  # type: ignore[no-untyped-def]
    actor = make_actor("customer_service")
    labels = client.post("/v1/dlp/redact", json={"text": f"证件 {RID}", "mode": "replace"}, headers=actor.headers).json()
    assert labels == {"text": "证件 [RESIDENT_ID]", "values": 1}
    hashed = client.post("/v1/dlp/redact", json={"text": f"证件 {RID}", "mode": "hash"}, headers=actor.headers).json()
    again = client.post("/v1/dlp/redact", json={"text": f"身份证 {RID}", "mode": "hash"}, headers=actor.headers).json()
    assert hashed["text"].split()[1] == again["text"].split()[1]
    assert RID not in hashed["text"]


def test_needs_a_principal_and_valid_input(client: TestClient, make_actor) -> None:  # type: ignore[no-untyped-def]
    assert client.post("/v1/dlp/scan", json={"text": "x"}).status_code == 401
    actor = make_actor("customer_service")
    bad = client.post("/v1/dlp/redact", json={"text": RID, "mode": "token"}, headers=actor.headers)
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert RID not in bad.text
    extra = client.post("/v1/dlp/scan", json={"text": "x", "echo": True}, headers=actor.headers)
    assert extra.status_code == 422
