"""Principals over HTTP: every endpoint for every role, a test per denial as well as per success."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from lendshield.ledger.models import LedgerEntryRow
from lendshield.principals.models import ApiTokenRow, PrincipalRow
from lendshield.runtime import Runtime

NON_ADMIN = [
    "customer_service",
    "collector",
    "collection_supervisor",
    "risk_officer",
    "device_operator",
    "protection_officer",
    "auditor",
    "loan_system",
]


def counts(rt: Runtime) -> tuple[int, int, int]:
    with rt.sessions() as session:
        out = tuple(int(session.scalar(select(func.count()).select_from(m)) or 0) for m in (PrincipalRow, ApiTokenRow, LedgerEntryRow))
        session.rollback()
    return out  # type: ignore[return-value]


def token_id(token: str) -> str:
    return token.removeprefix("lsk_").split(".", 1)[0]


def denied(resp, status: int = 403) -> None:  # type: ignore[no-untyped-def]
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["detail"]


@pytest.fixture
def admin(make_actor):  # type: ignore[no-untyped-def]
    return make_actor("admin")


@pytest.fixture
def victim(make_actor):  # type: ignore[no-untyped-def]
    return make_actor("collector")


# -- successes ----------------------------------------------------------------------------------


def test_me_for_every_role(client: TestClient, make_actor) -> None:  # type: ignore[no-untyped-def]
    for role in ["admin", *NON_ADMIN]:
        actor = make_actor(role)
        body = client.get("/v1/principals/me", headers=actor.headers).json()
        assert body["roles"] == [role]
        assert body["id"] == actor.principal.id


def test_admin_manages_principals_and_tokens(client: TestClient, admin, rt: Runtime) -> None:  # type: ignore[no-untyped-def]
    made = client.post("/v1/principals", json={"name": "svc.loans", "kind": "service", "roles": ["loan_system"]}, headers=admin.headers)
    assert made.status_code == 201, made.text
    pid = made.json()["id"]
    assert "svc.loans" in [p["name"] for p in client.get("/v1/principals", headers=admin.headers).json()]
    issued = client.post(f"/v1/principals/{pid}/tokens", json={"label": "prod", "ttl_days": 30}, headers=admin.headers)
    assert issued.status_code == 201
    token = issued.json()["token"]
    assert token.startswith("lsk_")
    assert issued.json()["note"] == "shown once; store it now"
    with rt.sessions() as session:
        stored = session.get(ApiTokenRow, token_id(token))
        assert stored is not None
        assert token.encode() not in stored.digest
        assert token.split(".", 1)[1] not in stored.label
        session.rollback()
    assert client.get("/v1/principals/me", headers={"Authorization": f"Bearer {token}"}).json()["name"] == "svc.loans"
    assert client.post(f"/v1/principals/{pid}/active", json={"active": False}, headers=admin.headers).json()["id"] == pid
    assert client.get("/v1/principals/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert client.post(f"/v1/principals/{pid}/active", json={"active": True}, headers=admin.headers).status_code == 200
    assert client.delete(f"/v1/principals/tokens/{token_id(token)}", headers=admin.headers).status_code == 204
    assert client.get("/v1/principals/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


@pytest.mark.parametrize("role", NON_ADMIN)
def test_anyone_may_issue_and_revoke_their_own_token(client: TestClient, make_actor, role: str) -> None:  # type: ignore[no-untyped-def]
    me = make_actor(role)
    new = client.post(f"/v1/principals/{me.principal.id}/tokens", json={}, headers=me.headers)
    assert new.status_code == 201
    assert client.delete(f"/v1/principals/tokens/{token_id(new.json()['token'])}", headers=me.headers).status_code == 204


# -- denials: one per endpoint and role -----------------------------------------------------------


@pytest.mark.parametrize("role", NON_ADMIN)
def test_list_denied(client: TestClient, make_actor, role: str) -> None:  # type: ignore[no-untyped-def]
    denied(client.get("/v1/principals", headers=make_actor(role).headers))


@pytest.mark.parametrize("role", NON_ADMIN)
def test_create_denied(client: TestClient, make_actor, rt: Runtime, role: str) -> None:  # type: ignore[no-untyped-def]
    actor = make_actor(role)
    before = counts(rt)
    denied(client.post("/v1/principals", json={"name": "sneaky", "roles": ["admin"]}, headers=actor.headers))
    assert counts(rt) == before


@pytest.mark.parametrize("role", NON_ADMIN)
def test_issue_for_someone_else_denied(client: TestClient, make_actor, victim, rt: Runtime, role: str) -> None:  # type: ignore[no-untyped-def]
    actor = make_actor(role)
    before = counts(rt)
    denied(client.post(f"/v1/principals/{victim.principal.id}/tokens", json={}, headers=actor.headers))
    assert counts(rt) == before


@pytest.mark.parametrize("role", NON_ADMIN)
def test_set_active_denied(client: TestClient, make_actor, victim, rt: Runtime, role: str) -> None:  # type: ignore[no-untyped-def]
    actor = make_actor(role)
    before = counts(rt)
    denied(client.post(f"/v1/principals/{victim.principal.id}/active", json={"active": False}, headers=actor.headers))
    denied(client.post(f"/v1/principals/{actor.principal.id}/active", json={"active": True}, headers=actor.headers))
    assert counts(rt) == before
    assert client.get("/v1/principals/me", headers=victim.headers).status_code == 200


@pytest.mark.parametrize("role", NON_ADMIN)
def test_revoke_someone_elses_token_denied(client: TestClient, make_actor, victim, rt: Runtime, role: str) -> None:  # type: ignore[no-untyped-def]
    actor = make_actor(role)
    before = counts(rt)
    denied(client.delete(f"/v1/principals/tokens/{token_id(victim.token)}", headers=actor.headers))
    assert counts(rt) == before
    assert client.get("/v1/principals/me", headers=victim.headers).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/principals/me", None),
        ("GET", "/v1/principals", None),
        ("POST", "/v1/principals", {"name": "x", "roles": ["admin"]}),
        ("POST", "/v1/principals/00000000-0000-0000-0000-000000000000/tokens", {}),
        ("POST", "/v1/principals/00000000-0000-0000-0000-000000000000/active", {"active": False}),
        ("DELETE", "/v1/principals/tokens/0000000000000000", None),
    ],
)
def test_every_endpoint_needs_a_token(client: TestClient, rt: Runtime, method: str, path: str, body) -> None:  # type: ignore[no-untyped-def]
    before = counts(rt)
    denied(client.request(method, path, json=body), 401)
    assert counts(rt) == before


def test_admin_cannot_deactivate_themselves(client: TestClient, admin) -> None:  # type: ignore[no-untyped-def]
    denied(client.post(f"/v1/principals/{admin.principal.id}/active", json={"active": False}, headers=admin.headers))
    assert client.get("/v1/principals/me", headers=admin.headers).status_code == 200


def test_admin_input_errors(client: TestClient, admin, rt: Runtime) -> None:  # type: ignore[no-untyped-def]
    before = counts(rt)
    h = admin.headers
    assert client.post("/v1/principals", json={"name": "x", "roles": ["pope"]}, headers=h).json()["code"] == "unknown-role"
    assert client.post("/v1/principals", json={"name": "x", "roles": []}, headers=h).status_code == 422
    assert client.post("/v1/principals", json={"name": "has space", "roles": ["admin"]}, headers=h).status_code == 422
    assert client.post("/v1/principals", json={"name": "x", "roles": ["admin"], "kind": "robot"}, headers=h).status_code == 422
    assert client.post("/v1/principals", json={"name": "x", "roles": ["admin"], "extra": 1}, headers=h).status_code == 422
    missing = "00000000-0000-0000-0000-000000000000"
    assert client.post(f"/v1/principals/{missing}/tokens", json={}, headers=h).status_code == 404
    assert client.post(f"/v1/principals/{missing}/active", json={"active": True}, headers=h).status_code == 404
    assert client.delete("/v1/principals/tokens/0000000000000000", headers=h).status_code == 404
    assert client.post(f"/v1/principals/{admin.principal.id}/tokens", json={"ttl_days": 0}, headers=h).status_code == 422
    assert counts(rt) == before
    assert client.post("/v1/principals", json={"name": "dup", "roles": ["auditor"]}, headers=h).status_code == 201
    assert client.post("/v1/principals", json={"name": "dup", "roles": ["auditor"]}, headers=h).json()["code"] == "principal-exists"


def test_self_issued_tokens_always_expire(client, make_actor, rt) -> None:  # type: ignore[no-untyped-def]
    from lendshield.principals.models import ApiTokenRow
    from lendshield.principals.service import SELF_ISSUED_MAX_TTL

    actor = make_actor("collector")
    resp = client.post(f"/v1/principals/{actor.principal.id}/tokens", json={"label": "mine"}, headers=actor.headers)
    assert resp.status_code == 201
    token_id = resp.json()["token"][4:].split(".")[0]
    with rt.sessions() as session:
        row = session.get(ApiTokenRow, token_id)
        assert row is not None
        assert row.expires_at is not None
        assert row.expires_at - rt.clock.now() <= SELF_ISSUED_MAX_TTL
