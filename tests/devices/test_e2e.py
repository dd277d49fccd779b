"""End to end: the real HTTP server and the reference agent, each in its own process.

Overdue -> two reminders (the second a final notice) -> a lock request -> two approvals -> the
lock applied on the phone -> the loan system pushes a payment -> unlocked within 5 seconds ->
payoff -> released with a certificate. Everything is then in the borrower's ledger bundle, and the
bundle verifies offline against the log key; every command the phone received also verifies
under a second JOSE implementation (PyJWT), not the one that signed it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import select

from lendshield.crypto.jws import public_jwk, unb64url, verify_compact
from lendshield.devices.models import CommandRow, DeviceRow
from lendshield.devices.service import command_key
from lendshield.ledger.proofs import bundle_for_subject
from lendshield.ledger.tree import integrate_all, log_public_key
from lendshield.ledger.verify import verify_bundle
from lendshield.principals import service as principals
from lendshield.runtime import Runtime
from lendshield.settings import Settings
from lendshield.subjects import service as subjects
from tests.devices.support import IMEI
from tests.ops.live_server import server_env, start_server

AGENT = [sys.executable, "-m", "lendshield.cli", "agent"]
ROLES = ("loan_system", "collector", "collection_supervisor", "risk_officer", "device_operator", "protection_officer")


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> float:
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)
    return time.monotonic() - start


def phone(path: Path) -> dict[str, Any]:
    try:
        state: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):  # between the agent's writes
        return {}
    return state


def seed(rt: Runtime) -> tuple[dict[str, str], str]:
    # Create the log and command keys before the server starts: a key file loaded earlier by this
    # process would otherwise add its own version of a key the server created meanwhile.
    log_public_key(rt)
    command_key(rt)
    tokens, made = {}, {}
    with rt.sessions() as session:
        for role in ROLES:
            kind = "service" if role == "loan_system" else "staff"
            made[role] = principals.create_principal(
                session, None, rt.catalog, name=f"e2e-{role}", kind=kind, roles=[role], now=rt.clock.now()
            )
            tokens[role] = principals.issue_token(session, None, made[role].id, label="e2e", now=rt.clock.now())
        sid, _ = subjects.create_subject(session, rt, made["loan_system"], kind="borrower", fields={"name": "周九"})
        session.commit()
    return tokens, sid


@pytest.mark.slow
def test_overdue_to_lock_to_payment_unlock_and_release(rt: Runtime, settings: Settings, tmp_path: Path) -> None:
    tokens, borrower = seed(rt)
    env = server_env(settings.data_dir, settings.resolved_database_url(), ledger_integrate_interval_s="0.3")
    server = start_server(env, tmp_path / "server.log")
    state = tmp_path / "phone.json"
    agent_proc: subprocess.Popen[bytes] | None = None
    http = httpx.Client(base_url=server.base_url, timeout=10)

    def post(role: str, path: str, body: dict[str, Any], status: int = 201) -> dict[str, Any]:
        resp = http.post(path, json=body, headers={"Authorization": f"Bearer {tokens[role]}"})
        assert resp.status_code == status, f"{path}: {resp.status_code} {resp.text[:300]}"
        return resp.json() if resp.content else {}

    try:
        http.put(
            "/v1/loans/L-e2e",
            json={"borrower_id": borrower, "principal_amount": "3000.00"},
            headers={"Authorization": f"Bearer {tokens['loan_system']}"},
        ).raise_for_status()
        post("loan_system", "/v1/loans/L-e2e/events", {"id": "od-1", "kind": "overdue", "overdue_days": 75}, status=200)
        public_key = subprocess.run([*AGENT, "init", "--state", str(state)], env=env, capture_output=True, text=True, check=True)
        enrolment = {"loan_id": "L-e2e", "public_key": public_key.stdout.strip(), "imei": IMEI}
        # No consent to the device notice yet: refused, as problem+json, and nothing enrolled.
        refused = http.post("/v1/devices", json=enrolment, headers={"Authorization": f"Bearer {tokens['device_operator']}"})
        assert refused.status_code == 409
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["type"].endswith("/device-consent-required")
        version = post("protection_officer", "/v1/devices/notice", {})["version"]
        consent = {"purpose": "device_management", "action": "grant", "notice_version": version, "channel": "app"}
        post("loan_system", f"/v1/subjects/{borrower}/consents", consent)
        made = post("device_operator", "/v1/devices", enrolment)
        device_id = made["device_id"]
        pin = ["pin", "--state", str(state), "--device-id", device_id, "--server", server.base_url, "--command-kid", made["command_kid"]]
        subprocess.run([*pin_cmd(pin), "--command-key", made["command_key"], "--ledger-key", made["ledger_key"]], env=env, check=True)
        with (tmp_path / "agent.log").open("ab") as out:
            agent_proc = subprocess.Popen([*AGENT, "run", "--state", str(state), "--interval", "0.3"], env=env, stdout=out, stderr=out)

        post("collector", f"/v1/devices/{device_id}/reminders", {"message_zh": "请按时还款"})
        post("collector", f"/v1/devices/{device_id}/reminders", {"message_zh": "最后通知：请于7日内还款", "final": True})
        wait_for(lambda: phone(state).get("last_seq") == 2, 10, "both reminders on the phone")
        wait_for(lambda: acked(rt, device_id) == 2, 10, "both reminders acknowledged")
        body = {"command": "lock", "reason_code": "overdue_unresponsive", "reason_text": "75 days overdue, no answer to two reminders"}
        early = http.post(f"/v1/devices/{device_id}/requests", json=body, headers={"Authorization": f"Bearer {tokens['collector']}"})
        assert early.status_code == 409  # the final notice has not given 7 days yet
        assert "less than 7 days" in early.json()["detail"]
        # The server's clock is real: move the deliveries a week back rather than wait a week.
        with rt.sessions() as session:
            for row in session.scalars(select(CommandRow).where(CommandRow.acked_at.is_not(None))):
                row.acked_at = row.acked_at - timedelta(days=8) if row.acked_at else None
            session.commit()

        rid = post("collector", f"/v1/devices/{device_id}/requests", body)["id"]
        assert post("collection_supervisor", f"/v1/devices/requests/{rid}/review", {"approve": True, "reason": "file checked"}, 200) == {
            "status": "pending"
        }
        time.sleep(1.0)  # a few check-ins: one approval sends nothing
        assert phone(state)["lock_state"] == "active"
        post("risk_officer", f"/v1/devices/requests/{rid}/review", {"approve": True, "reason": "file checked"}, 200)
        wait_for(lambda: phone(state).get("lock_state") == "locked", 10, "the lock on the phone")
        screen = phone(state)["screen"]
        assert {"lender_contact", "how_to_pay", "how_to_complain"} <= set(screen)
        assert "emergency calls" in screen["always_available"]
        wait_for(lambda: device_state(rt, device_id) == "locked", 10, "the lock acknowledged")

        post("loan_system", "/v1/loans/L-e2e/events", {"id": "pay-1", "kind": "payment", "amount": "900.00", "overdue_days": 0}, 200)
        took = wait_for(lambda: phone(state).get("lock_state") == "active", 5, "the unlock on the phone")
        assert took < 5
        post("loan_system", "/v1/loans/L-e2e/events", {"id": "payoff-1", "kind": "payoff"}, 200)
        wait_for(lambda: phone(state).get("lock_state") == "released", 10, "the release on the phone")
        wait_for(lambda: device_state(rt, device_id) == "released", 10, "the release acknowledged")
        certificate = phone(state)["release_certificate"]
    finally:
        if agent_proc is not None:
            agent_proc.terminate()
            agent_proc.wait(10)
        http.close()
        server.stop()

    with rt.sessions() as session:
        rows = session.scalars(select(CommandRow).where(CommandRow.device_id == device_id).order_by(CommandRow.seq)).all()
    assert [r.command for r in rows] == ["remind", "remind", "lock", "unlock", "release"]
    assert all(r.acked_at is not None for r in rows)
    # A second JOSE implementation (PyJWT) verifies every command the phone applied.
    kid = made["command_kid"]
    key = jwt.algorithms.OKPAlgorithm.from_jwk(public_jwk(unb64url(made["command_key"]), kid))
    for r in rows:
        decoded = jwt.api_jws.PyJWS().decode_complete(r.token, key=key, algorithms=["EdDSA"])
        assert json.loads(decoded["payload"])["cmd"] == r.command
    _, cert = verify_compact(certificate, {kid: unb64url(made["command_key"])}, "lendshield-release-certificate")
    assert cert["dev"] == device_id
    assert cert["loan"] == "L-e2e"

    integrate_all(rt)
    with rt.sessions() as session:
        bundle = bundle_for_subject(session, rt, borrower)
    report = verify_bundle(json.loads(json.dumps(bundle)), made["ledger_key"])
    assert report.ok, report.failures
    actions = [(json.loads(e["body"])["action"], json.loads(e["body"]).get("decision")) for e in bundle["entries"]]
    for expected in [
        ("consent.grant", "grant"),
        ("device.enroll", None),
        ("device.request", "refused"),
        ("device.request", "pending"),
        ("device.review", "approve"),
        ("device.command", "lock"),
        ("device.command", "unlock"),
        ("device.command", "release"),
        ("device.ack", "applied"),
    ]:
        assert expected in actions, expected
    assert sum(1 for a in actions if a == ("device.ack", "applied")) == 5


def pin_cmd(args: list[str]) -> list[str]:
    return [*AGENT, *args]


def acked(rt: Runtime, device_id: str) -> int:
    with rt.sessions() as session:
        return len(session.scalars(select(CommandRow).where(CommandRow.device_id == device_id, CommandRow.acked_at.is_not(None))).all())


def device_state(rt: Runtime, device_id: str) -> str:
    with rt.sessions() as session:
        device = session.get(DeviceRow, device_id)
        return "" if device is None else device.state
