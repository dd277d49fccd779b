"""Device endpoints over HTTP, with a denial test per role and per forged message."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from lendshield.crypto.jws import b64url, public_raw, sign_compact
from lendshield.devices.api import CHECKIN_TYP
from lendshield.devices.protocol import ACK_TYP
from lendshield.loans.models import LoanRow
from lendshield.runtime import Runtime
from lendshield.subjects import service as subjects


@pytest.fixture
def enrolled(rt: Runtime, client: TestClient, make_actor):  # type: ignore[no-untyped-def]
    writer = make_actor("loan_system")
    with rt.sessions() as session:
        sid, _ = subjects.create_subject(session, rt, writer.principal, kind="borrower", fields={"name": "钱七"})
        session.add(
            LoanRow(
                id="L-9",
                borrower_id=sid,
                principal_amount=Decimal(2000),
                status="overdue",
                overdue_days=90,
                assigned_collector_id=None,
                synthetic=True,
                created_at=rt.clock.now(),
                updated_at=rt.clock.now(),
            )
        )
        session.commit()
    operator = make_actor("device_operator")
    key = Ed25519PrivateKey.generate()
    resp = client.post(
        "/v1/devices", json={"loan_id": "L-9", "public_key": b64url(public_raw(key)), "notice_version": "dn-1"}, headers=operator.headers
    )
    assert resp.status_code == 201, resp.text
    return resp.json()["device_id"], key


def _checkin(rt: Runtime, client: TestClient, device_id: str, key: Ed25519PrivateKey, last_seq: int = 0) -> object:
    token = sign_compact(
        key, f"dev-{device_id}", {"dev": device_id, "last_seq": last_seq, "iat": int(rt.clock.now().timestamp())}, CHECKIN_TYP
    )
    return client.post(f"/v1/devices/{device_id}/checkin", json={"token": token})


@pytest.mark.parametrize("role", ["customer_service", "collector", "auditor", "protection_officer"])
def test_only_device_operators_and_the_loan_system_enrol(client: TestClient, make_actor, role: str) -> None:  # type: ignore[no-untyped-def]
    actor = make_actor(role)
    resp = client.post(
        "/v1/devices", json={"loan_id": "L-x", "public_key": b64url(b"k" * 32), "notice_version": "dn-1"}, headers=actor.headers
    )
    assert resp.status_code == 403


def test_reminder_checkin_and_ack(rt: Runtime, client: TestClient, make_actor, enrolled) -> None:  # type: ignore[no-untyped-def]
    device_id, key = enrolled
    collector = make_actor("collector")
    assert client.post(f"/v1/devices/{device_id}/reminders", json={"message_zh": "请还款"}, headers=collector.headers).status_code == 201
    from lendshield.ledger.tree import integrate_all

    assert _checkin(rt, client, device_id, key).json()["waiting_for_log"] == [1]  # type: ignore[attr-defined]
    integrate_all(rt)
    got = _checkin(rt, client, device_id, key)
    assert got.status_code == 200  # type: ignore[attr-defined]
    commands = got.json()["commands"]  # type: ignore[attr-defined]
    assert [c["seq"] for c in commands] == [1]
    ack = sign_compact(key, f"dev-{device_id}", {"dev": device_id, "seq": 1, "result": "applied"}, ACK_TYP)
    assert client.post(f"/v1/devices/{device_id}/acks", json={"token": ack}).status_code == 204
    assert _checkin(rt, client, device_id, key, last_seq=1).json()["commands"] == []  # type: ignore[attr-defined]


def test_forged_or_stale_checkins_are_refused(rt: Runtime, client: TestClient, enrolled) -> None:  # type: ignore[no-untyped-def]
    device_id, key = enrolled
    assert _checkin(rt, client, device_id, Ed25519PrivateKey.generate()).status_code == 403  # type: ignore[attr-defined]
    stale = sign_compact(key, f"dev-{device_id}", {"dev": device_id, "last_seq": 0, "iat": int(time.time()) - 86_400 * 400}, CHECKIN_TYP)
    assert client.post(f"/v1/devices/{device_id}/checkin", json={"token": stale}).status_code == 403


def test_requests_refused_by_preconditions_and_roles(client: TestClient, make_actor, enrolled) -> None:  # type: ignore[no-untyped-def]
    device_id, _ = enrolled
    collector = make_actor("collector")
    body = {"command": "lock", "reason_code": "overdue_unresponsive", "reason_text": "ninety days overdue, unreachable"}
    refused = client.post(f"/v1/devices/{device_id}/requests", json=body, headers=collector.headers)
    assert refused.status_code == 409
    assert "reminders" in refused.json()["detail"]
    service_desk = make_actor("customer_service")
    assert client.post(f"/v1/devices/{device_id}/requests", json=body, headers=service_desk.headers).status_code == 403
    assert client.get("/v1/devices/requests/pending", headers=collector.headers).status_code == 403
    supervisor = make_actor("collection_supervisor")
    assert client.get("/v1/devices/requests/pending", headers=supervisor.headers).status_code == 200
    wipe = client.post(f"/v1/devices/{device_id}/requests", json=body | {"command": "wipe"}, headers=collector.headers)
    assert wipe.status_code == 422
