"""Device endpoints over HTTP, with a denial test per role and per forged message."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import select

from lendshield.clock import FrozenClock
from lendshield.crypto.jws import b64url, public_raw, sign_compact, unb64url
from lendshield.devices import service as devices
from lendshield.devices.api import CHECKIN_TYP
from lendshield.devices.models import DeviceRow
from lendshield.devices.protocol import ACK_TYP
from lendshield.ledger.models import LedgerEntryRow
from lendshield.ledger.tree import integrate_all
from lendshield.loans.models import LoanRow
from lendshield.runtime import Runtime
from lendshield.subjects import service as subjects
from tests.devices.support import IMEI, grant_device_consent, imei


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
        session.flush()
        grant_device_consent(session, rt, sid)
        session.commit()
    operator = make_actor("device_operator")
    key = Ed25519PrivateKey.generate()
    resp = client.post(
        "/v1/devices", json={"loan_id": "L-9", "public_key": b64url(public_raw(key)), "imei": IMEI}, headers=operator.headers
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
    resp = client.post("/v1/devices", json={"loan_id": "L-x", "public_key": b64url(b"k" * 32), "imei": IMEI}, headers=actor.headers)
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


EVIL = b64url(b'{"dev":"x","last_seq":0,"seq":1}')  # a payload swapped under a genuine signature


def _second_device(client: TestClient, make_actor) -> tuple[str, Ed25519PrivateKey]:  # type: ignore[no-untyped-def]
    key = Ed25519PrivateKey.generate()
    resp = client.post(
        "/v1/devices",
        json={"loan_id": "L-9", "public_key": b64url(public_raw(key)), "imei": imei(2)},
        headers=make_actor("device_operator").headers,
    )
    return resp.json()["device_id"], key


@pytest.mark.parametrize(
    "case", ["forged", "tampered", "truncated", "replayed", "wrong-device", "other-devices-key", "wrong-type", "oversized"]
)
def test_the_server_refuses_bad_checkins(rt: Runtime, client: TestClient, make_actor, enrolled, case: str) -> None:  # type: ignore[no-untyped-def]
    device_id, key = enrolled
    now = int(rt.clock.now().timestamp())
    claims = {"dev": device_id, "last_seq": 0, "iat": now}
    good = sign_compact(key, f"dev-{device_id}", claims, CHECKIN_TYP)
    head, _, sig = good.split(".")
    other_id, other_key = _second_device(client, make_actor)
    token, status = {
        "forged": (sign_compact(Ed25519PrivateKey.generate(), f"dev-{device_id}", claims, CHECKIN_TYP), 403),
        "tampered": (f"{head}.{EVIL}.{sig}", 403),
        "truncated": (good[: len(good) // 2], 403),
        "replayed": (sign_compact(key, f"dev-{device_id}", claims | {"iat": now - 3600}, CHECKIN_TYP), 403),
        "wrong-device": (sign_compact(key, f"dev-{device_id}", claims | {"dev": other_id}, CHECKIN_TYP), 403),
        "other-devices-key": (sign_compact(other_key, f"dev-{device_id}", claims, CHECKIN_TYP), 403),
        "wrong-type": (sign_compact(key, f"dev-{device_id}", claims, ACK_TYP), 403),
        "oversized": (good + "A" * 20_000, 422),
    }[case]
    assert client.post(f"/v1/devices/{device_id}/checkin", json={"token": token}).status_code == status
    assert _checkin(rt, client, device_id, key).status_code == 200  # type: ignore[attr-defined]


def _acks(rt: Runtime) -> int:
    with rt.sessions() as session:
        return len(session.scalars(select(LedgerEntryRow).where(LedgerEntryRow.action == "device.ack")).all())


def test_the_server_refuses_bad_acknowledgements(rt: Runtime, client: TestClient, make_actor, enrolled) -> None:  # type: ignore[no-untyped-def]
    device_id, key = enrolled
    other_id, other_key = _second_device(client, make_actor)
    collector = make_actor("collector")
    client.post(f"/v1/devices/{device_id}/reminders", json={"message_zh": "请还款"}, headers=collector.headers)
    ack = {"dev": device_id, "seq": 1, "result": "applied"}
    good = sign_compact(key, f"dev-{device_id}", ack, ACK_TYP)
    head, _, sig = good.split(".")
    url = f"/v1/devices/{device_id}/acks"
    assert client.post(url, json={"token": sign_compact(Ed25519PrivateKey.generate(), f"dev-{device_id}", ack, ACK_TYP)}).status_code == 403
    assert client.post(url, json={"token": f"{head}.{EVIL}.{sig}"}).status_code == 403
    assert client.post(url, json={"token": good[:-10]}).status_code == 403
    assert client.post(url, json={"token": sign_compact(key, f"dev-{device_id}", ack | {"seq": 7}, ACK_TYP)}).status_code == 404
    assert client.post(url, json={"token": sign_compact(key, f"dev-{device_id}", ack | {"dev": other_id}, ACK_TYP)}).status_code == 404
    assert client.post(f"/v1/devices/{other_id}/acks", json={"token": good}).status_code == 403  # another phone's key
    assert _acks(rt) == 0
    assert client.post(url, json={"token": good}).status_code == 204
    assert client.post(url, json={"token": good}).status_code == 204  # replayed: no second entry, nothing changes
    assert _acks(rt) == 1
    del other_key


def test_the_server_never_resends_applied_or_expired_commands(
    rt: Runtime, clock: FrozenClock, client: TestClient, make_actor, enrolled
) -> None:  # type: ignore[no-untyped-def]
    device_id, key = enrolled
    collector = make_actor("collector")
    for text in ("请还款", "再次提醒"):
        client.post(f"/v1/devices/{device_id}/reminders", json={"message_zh": text}, headers=collector.headers)
    integrate_all(rt)
    ack = sign_compact(key, f"dev-{device_id}", {"dev": device_id, "seq": 1, "result": "applied"}, ACK_TYP)
    assert client.post(f"/v1/devices/{device_id}/acks", json={"token": ack}).status_code == 204
    rolled_back = _checkin(rt, client, device_id, key, last_seq=0).json()  # type: ignore[attr-defined]
    assert [c["seq"] for c in rolled_back["commands"]] == [2]  # a phone restored from a backup does not get seq 1 again
    clock.advance(devices.DeviceRules().command_ttl + timedelta(minutes=1))
    assert _checkin(rt, client, device_id, key, last_seq=1).json()["commands"] == []  # type: ignore[attr-defined]


def test_a_lapsed_unlock_is_issued_again_at_checkin(rt: Runtime, clock: FrozenClock, client: TestClient, enrolled) -> None:  # type: ignore[no-untyped-def]
    device_id, key = enrolled
    with rt.sessions() as session:
        device, loan = session.get(DeviceRow, device_id), session.get(LoanRow, "L-9")
        assert device is not None
        assert loan is not None
        device.state, loan.overdue_days, loan.status = "locked", 0, "current"  # as if locked, then paid
        (unlock,) = devices.on_loan_state(session, rt, "L-9", devices.DeviceRules())
        session.commit()
    clock.advance(devices.DeviceRules().command_ttl + timedelta(hours=1))  # the phone was offline all that time
    assert _checkin(rt, client, device_id, key).json()["waiting_for_log"] == [2]  # type: ignore[attr-defined]
    integrate_all(rt)
    fresh = _checkin(rt, client, device_id, key).json()["commands"]  # type: ignore[attr-defined]
    assert [(c["seq"], json.loads(unb64url(c["token"].split(".")[1]))["cmd"]) for c in fresh] == [(2, "unlock")]
    assert unlock.seq == 1
