"""Every kind of bad input gets a problem+json answer with a clear message and changes nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from lendshield.clock import FrozenClock
from lendshield.principals import service as principals
from lendshield.runtime import Runtime

PURPOSE = {"X-Purpose": "loan_servicing"}
GOOD = {"fields": {"name": "张三", "mobile": "13812345678", "resident_id": "11010519491231002X"}}
MISSING = "00000000-0000-0000-0000-000000000000"


def assert_problem(resp, status: int, code: str | None = None) -> dict:  # type: ignore[no-untyped-def]
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    body = resp.json()
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    assert body["type"].startswith("https://")
    if code is not None:
        assert body["code"] == code, body
    return dict(body)


@pytest.fixture
def unchanged(row_counts: Callable[[], dict[str, int]]) -> Iterator[None]:
    before = row_counts()
    yield
    assert row_counts() == before


@pytest.fixture
def writer(make_actor):  # type: ignore[no-untyped-def]
    return make_actor("loan_system")


@pytest.fixture
def sid(client: TestClient, writer) -> str:  # type: ignore[no-untyped-def]
    resp = client.post("/v1/subjects", json=GOOD, headers=writer.headers)
    assert resp.status_code == 201
    return str(resp.json()["id"])


def test_malformed_json(client: TestClient, writer, unchanged) -> None:  # type: ignore[no-untyped-def]
    for raw in [b"{", b'{"fields": }', b"\xff\xfe", b"nul"]:
        resp = client.post("/v1/subjects", content=raw, headers=writer.headers | {"Content-Type": "application/json"})
        body = assert_problem(resp, 400, "malformed-json")
        assert "JSON" in body["detail"]


@pytest.mark.parametrize(
    ("payload", "where"),
    [
        ({"fields": "13812345678"}, "body.fields"),
        ({"fields": {"mobile": 13812345678}}, "body.fields.mobile"),
        ({"fields": {"mobile": None}}, "body.fields.mobile"),
        ({"fields": {}}, "body.fields"),
        ({"fields": GOOD["fields"], "contacts": "mum"}, "body.contacts"),
        ({"fields": GOOD["fields"], "kind": "canary"}, "body.kind"),
        ([GOOD], "body"),
        ({}, "body.fields"),
    ],
)
def test_wrong_types(client: TestClient, writer, unchanged, payload, where: str) -> None:  # type: ignore[no-untyped-def]
    body = assert_problem(client.post("/v1/subjects", json=payload, headers=writer.headers), 422, "invalid-input")
    assert body["detail"].startswith(where)
    assert "13812345678" not in str(body)


def test_unknown_fields(client: TestClient, writer, unchanged) -> None:  # type: ignore[no-untyped-def]
    resp = client.post("/v1/subjects", json={**GOOD, "colour": "red"}, headers=writer.headers)
    assert "colour" in assert_problem(resp, 422, "invalid-input")["detail"]
    resp = client.post("/v1/subjects", json={"fields": {"shoe_size": "42"}}, headers=writer.headers)
    body = assert_problem(resp, 422, "unknown-field")
    assert body["detail"] == "fields.shoe_size: not a field of the catalog"


def test_a_personal_value_used_as_a_key_is_not_echoed(client: TestClient, writer, unchanged) -> None:  # type: ignore[no-untyped-def]
    resp = client.post("/v1/subjects", json={"fields": {"13812345678": "x", "张三": "y"}}, headers=writer.headers)
    assert_problem(resp, 422, "invalid-input")
    assert "13812345678" not in resp.text
    assert "张三" not in resp.text


def test_invalid_value_is_refused_with_path_and_nothing_stored(client: TestClient, writer, unchanged) -> None:  # type: ignore[no-untyped-def]
    # The first fields are valid: validation happens before anything is written.
    resp = client.post("/v1/subjects", json={"fields": {"name": "张三", "mobile": "12345"}}, headers=writer.headers)
    body = assert_problem(resp, 422, "field-invalid")
    assert body["path"] == "fields.mobile"
    assert "12345" not in resp.text
    contact = {"fields": GOOD["fields"], "contacts": [{"relation": "配偶", "fields": {"mobile": "12345"}}]}
    body = assert_problem(client.post("/v1/subjects", json=contact, headers=writer.headers), 422, "field-invalid")
    assert body["path"] == "contacts[0].fields.mobile"


def test_oversized_body_413(client: TestClient, writer, unchanged, rt: Runtime) -> None:  # type: ignore[no-untyped-def]
    big = {"fields": {"name": "张" * (rt.settings.max_body_bytes // 2)}}
    body = assert_problem(client.post("/v1/subjects", json=big, headers=writer.headers), 413, "payload-too-large")
    assert str(rt.settings.max_body_bytes) in body["detail"]


def test_oversized_chunked_body_413(client: TestClient, writer, unchanged, rt: Runtime) -> None:  # type: ignore[no-untyped-def]
    def chunks() -> Iterator[bytes]:
        yield b'{"fields": {"name": "'
        for _ in range(rt.settings.max_body_bytes // 1000 + 2):
            yield b"a" * 1000
        yield b'"}}'

    resp = client.post("/v1/subjects", content=chunks(), headers=writer.headers | {"Content-Type": "application/json"})
    assert_problem(resp, 413, "payload-too-large")


def test_bad_content_length_header(client: TestClient, writer, unchanged) -> None:  # type: ignore[no-untyped-def]
    resp = client.post(
        "/v1/subjects", content=b"{}", headers=writer.headers | {"Content-Length": "abc", "Content-Type": "application/json"}
    )
    assert resp.status_code in (400, 413)


@pytest.mark.parametrize("bad", ["not-a-uuid", "../../etc/passwd", "ABCDEFAB-0000-0000-0000-000000000000", "1" * 37])
def test_invalid_identifiers(client: TestClient, writer, unchanged, bad: str) -> None:  # type: ignore[no-untyped-def]
    resp = client.get(f"/v1/subjects/{bad}", headers=writer.headers | PURPOSE)
    assert resp.status_code in (404, 422)
    assert resp.headers["content-type"] == "application/problem+json"


@pytest.fixture
def officer(make_actor):  # type: ignore[no-untyped-def]
    return make_actor("protection_officer")


def test_unknown_subject_everywhere(client: TestClient, writer, officer, unchanged) -> None:  # type: ignore[no-untyped-def]
    h = writer.headers | PURPOSE
    assert_problem(client.get(f"/v1/subjects/{MISSING}", headers=h), 404, "subject-not-found")
    assert_problem(client.post(f"/v1/subjects/{MISSING}/read", json={}, headers=h), 404, "subject-not-found")
    assert_problem(client.put(f"/v1/subjects/{MISSING}/fields/mobile", json={"value": "13812345678", "reason": "x"}, headers=h), 404)
    assert_problem(client.post(f"/v1/subjects/{MISSING}/tokens", json={"field": "mobile"}, headers=h), 404)
    assert_problem(client.post(f"/v1/subjects/{MISSING}/shred", json={"reason": "x"}, headers=officer.headers), 404)
    assert_problem(client.post("/v1/subjects/detokenize", json={"token": "tok_nothing"}, headers=h), 404, "token-not-found")


def test_unknown_route_and_method(client: TestClient, writer) -> None:  # type: ignore[no-untyped-def]
    assert_problem(client.get("/v1/nothing-here", headers=writer.headers), 404)
    assert_problem(client.delete(f"/v1/subjects/{MISSING}", headers=writer.headers), 405)


def test_bad_requests_on_an_existing_subject_change_nothing(client: TestClient, writer, make_actor, sid: str, row_counts) -> None:  # type: ignore[no-untyped-def]
    before = row_counts()
    officer = make_actor("protection_officer")
    before = row_counts()
    h = writer.headers | PURPOSE
    assert_problem(client.put(f"/v1/subjects/{sid}/fields/mobile", json={"value": "1", "reason": "x"}, headers=h), 422, "field-invalid")
    assert_problem(client.put(f"/v1/subjects/{sid}/fields/mobile", json={"value": "13900001111", "reason": ""}, headers=h), 422)
    assert_problem(client.put(f"/v1/subjects/{sid}/fields/shoe", json={"value": "42", "reason": "x"}, headers=h), 422, "unknown-field")
    assert_problem(client.post(f"/v1/subjects/{sid}/tokens", json={"field": "mobile", "x": 1}, headers=h), 422)
    assert_problem(client.post("/v1/subjects/lookup", json={"field": "name", "value": "张三"}, headers=h), 400, "field-not-indexed")
    assert_problem(client.post("/v1/subjects/lookup", json={"field": "mobile", "value": "nope"}, headers=h), 422, "field-invalid")
    assert_problem(client.post(f"/v1/subjects/{sid}/shred", json={}, headers=officer.headers), 422)
    assert_problem(client.post(f"/v1/subjects/{sid}/shred", json={"reason": "x"}, headers=writer.headers), 403, "forbidden")
    assert_problem(
        client.put(
            f"/v1/subjects/{sid}/fields/mobile", json={"value": "13900001111", "reason": "x"}, headers=make_actor("collector").headers
        ),
        403,
    )
    after = row_counts()
    after["principals"] -= 1
    after["api_tokens"] -= 1
    after["ledger_entries"] -= 2
    assert after == before


def test_shredded_subject_answers_410_with_reason(client: TestClient, writer, make_actor, sid: str) -> None:  # type: ignore[no-untyped-def]
    officer = make_actor("protection_officer")
    assert (
        client.post(f"/v1/subjects/{sid}/shred", json={"reason": "erasure under PIPL Art. 47"}, headers=officer.headers).status_code == 204
    )
    for resp in [
        client.get(f"/v1/subjects/{sid}", headers=writer.headers | PURPOSE),
        client.post(f"/v1/subjects/{sid}/read", json={"clear": True, "reason": "x"}, headers=officer.headers | PURPOSE),
        client.put(f"/v1/subjects/{sid}/fields/mobile", json={"value": "13900001111", "reason": "x"}, headers=writer.headers),
        client.post(f"/v1/subjects/{sid}/tokens", json={"field": "mobile"}, headers=writer.headers | PURPOSE),
    ]:
        body = assert_problem(resp, 410, "subject-shredded")
        assert "erasure under PIPL Art. 47" in body["detail"]


# -- authentication -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearer lsk_",
        "Bearer lsk_0000000000000000.wrong",
        "Bearer lsk_" + "a" * 500 + ".x",
        "Bearer not-a-token",
    ],
)
def test_bad_tokens_401(client: TestClient, header: str | None, unchanged) -> None:  # type: ignore[no-untyped-def]
    headers = {} if header is None else {"Authorization": header}
    body = assert_problem(client.get("/v1/principals/me", headers=headers), 401, "invalid-token")
    assert body["detail"] == "the bearer token is missing, invalid, revoked or expired"


def test_wrong_secret_for_a_real_token_id(client: TestClient, writer, unchanged) -> None:  # type: ignore[no-untyped-def]
    token_id, _secret = writer.token.split(".", 1)
    assert_problem(client.get("/v1/principals/me", headers={"Authorization": f"Bearer {token_id}.AAAA"}), 401, "invalid-token")


def test_bearer_scheme_is_case_insensitive(client: TestClient, writer) -> None:  # type: ignore[no-untyped-def]
    # RFC 9110 section 11.1: the authentication scheme is case-insensitive.
    assert client.get("/v1/principals/me", headers={"Authorization": f"bearer {writer.token}"}).status_code == 200


def test_expired_token(client: TestClient, rt: Runtime, clock: FrozenClock, writer) -> None:  # type: ignore[no-untyped-def]
    with rt.sessions() as session:
        token = principals.issue_token(session, None, writer.principal.id, label="short", now=clock.now(), ttl=timedelta(hours=1))
        session.commit()
    h = {"Authorization": f"Bearer {token}"}
    assert client.get("/v1/principals/me", headers=h).status_code == 200
    clock.advance(timedelta(hours=1))
    assert_problem(client.get("/v1/principals/me", headers=h), 401, "invalid-token")
    assert client.get("/v1/principals/me", headers=writer.headers).status_code == 200


def test_revoked_token(client: TestClient, writer) -> None:  # type: ignore[no-untyped-def]
    token_id = writer.token.removeprefix("lsk_").split(".", 1)[0]
    assert client.delete(f"/v1/principals/tokens/{token_id}", headers=writer.headers).status_code == 204
    assert_problem(client.get("/v1/principals/me", headers=writer.headers), 401, "invalid-token")
    assert_problem(client.post("/v1/subjects", json=GOOD, headers=writer.headers), 401, "invalid-token")


def test_deactivated_principal(client: TestClient, writer, make_actor, row_counts) -> None:  # type: ignore[no-untyped-def]
    admin = make_actor("admin")
    resp = client.post(f"/v1/principals/{writer.principal.id}/active", json={"active": False}, headers=admin.headers)
    assert resp.status_code == 200
    before = row_counts()
    assert_problem(client.post("/v1/subjects", json=GOOD, headers=writer.headers), 401, "invalid-token")
    assert row_counts() == before
    client.post(f"/v1/principals/{writer.principal.id}/active", json={"active": True}, headers=admin.headers)
    assert client.get("/v1/principals/me", headers=writer.headers).status_code == 200


def test_missing_purpose_changes_nothing(client: TestClient, writer, sid: str, row_counts) -> None:  # type: ignore[no-untyped-def]
    before = row_counts()
    body = assert_problem(client.get(f"/v1/subjects/{sid}", headers=writer.headers | {"X-Purpose": "  "}), 400, "bad-request")
    assert "X-Purpose" in body["detail"]
    assert row_counts() == before


def test_health_needs_no_token(client: TestClient) -> None:
    assert client.get("/healthz").status_code == 200
