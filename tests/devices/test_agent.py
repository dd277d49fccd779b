"""The reference agent against the real app: verify, apply, acknowledge; refuse what fails."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from lendshield.crypto.jws import b64url, peek_header, verify_compact
from lendshield.devices import agent
from lendshield.devices import service as devices
from lendshield.devices.models import CommandRow, DeviceRow
from lendshield.devices.protocol import Command, CommandRefused
from lendshield.devices.rotation import rotate_command_key
from lendshield.devices.service import DeviceRules
from lendshield.ledger.models import LedgerEntryRow
from lendshield.ledger.tree import integrate_all
from lendshield.ledger.witness import WitnessKey, check_and_cosign
from lendshield.loans.models import LoanRow
from lendshield.runtime import Runtime
from lendshield.subjects import service as subjects
from tests.devices.support import IMEI, grant_device_consent


def _enrolled_agent(rt: Runtime, client: TestClient, make_actor, tmp_path: Path) -> agent.AgentState:  # type: ignore[no-untyped-def]
    writer = make_actor("loan_system")
    with rt.sessions() as session:
        sid, _ = subjects.create_subject(session, rt, writer.principal, kind="borrower", fields={"name": "孙八"})
        session.add(
            LoanRow(
                id="L-a",
                borrower_id=sid,
                principal_amount=Decimal(1500),
                status="overdue",
                overdue_days=5,
                assigned_collector_id=None,
                synthetic=True,
                created_at=rt.clock.now(),
                updated_at=rt.clock.now(),
            )
        )
        session.flush()
        grant_device_consent(session, rt, sid)
        session.commit()
    state = agent.AgentState.create(tmp_path / "agent.json")
    assert (tmp_path / "agent.json").stat().st_mode & 0o777 == 0o600
    operator = make_actor("device_operator")
    made = client.post(
        "/v1/devices", json={"loan_id": "L-a", "public_key": b64url(state.public_key), "imei": IMEI}, headers=operator.headers
    ).json()
    state.pin(
        device_id=made["device_id"],
        server=str(client.base_url),
        command_kid=made["command_kid"],
        command_key=agent._unb64(made["command_key"]),
        ledger_key=made["ledger_key"],
    )
    return state


def _send_reminder(client: TestClient, make_actor, device_id: str) -> None:  # type: ignore[no-untyped-def]
    collector = make_actor("collector")
    assert client.post(f"/v1/devices/{device_id}/reminders", json={"message_zh": "请还款"}, headers=collector.headers).status_code == 201


def test_agent_waits_for_the_log_then_verifies_the_proof(rt: Runtime, client: TestClient, make_actor, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    state = _enrolled_agent(rt, client, make_actor, tmp_path)
    _send_reminder(client, make_actor, state.device_id)
    now = int(rt.clock.now().timestamp())
    assert agent.sync(state, client, now=now) == []  # not in a signed checkpoint yet: not delivered
    integrate_all(rt)
    assert agent.sync(state, client, now=now) == ["remind"]  # real inclusion proof, real signed checkpoint
    assert agent.AgentState.load(state.path).last_seq == 1
    with rt.sessions() as session:
        row = session.scalars(select(CommandRow)).one()
    assert row.acked_at is not None


def test_agent_refuses_a_forged_proof_or_another_log_key(rt: Runtime, client: TestClient, make_actor, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    state = _enrolled_agent(rt, client, make_actor, tmp_path)
    _send_reminder(client, make_actor, state.device_id)
    integrate_all(rt)
    item = client.post(f"/v1/devices/{state.device_id}/checkin", json={"token": _checkin(state, rt)}).json()["commands"][0]
    led = {"seq": json.loads(agent._unb64(item["token"].split(".")[1]))["led"]["seq"]}
    forged = dict(item, proof=dict(item["proof"], body=item["proof"]["body"].replace("device.command", "device.review")))
    with pytest.raises(CommandRefused, match="not this command"):
        agent.ledger_check_for(state, forged)(led)
    hashes = item["proof"]["inclusion_proof"]
    assert hashes, "the log has more than one entry, so the proof is not empty"
    flipped = base64.b64encode(bytes([base64.b64decode(hashes[0])[0] ^ 1]) + base64.b64decode(hashes[0])[1:]).decode()
    bad_hash = dict(item, proof=dict(item["proof"], inclusion_proof=[flipped, *hashes[1:]]))
    with pytest.raises(CommandRefused, match="inclusion proof"):
        agent.ledger_check_for(state, bad_hash)(led)
    state.ledger_key = "other.example/log+00000000+" + base64.b64encode(b"\x01" + bytes(32)).decode()
    with pytest.raises(CommandRefused, match="checkpoint refused"):
        agent.ledger_check_for(state, item)(led)
    no_proof = {k: v for k, v in item.items() if k != "proof"}
    with pytest.raises(CommandRefused, match="not proven"):
        agent.ledger_check_for(state, no_proof)(led)


def _checkin(state: agent.AgentState, rt: Runtime) -> str:
    from lendshield.crypto.jws import load_ed25519, sign_compact

    claims = {"dev": state.device_id, "last_seq": 0, "iat": int(rt.clock.now().timestamp())}
    return sign_compact(load_ed25519(state.seed), f"dev-{state.device_id}", claims, agent.CHECKIN_TYP)


def test_agent_applies_and_acknowledges(rt: Runtime, client: TestClient, make_actor, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    state = _enrolled_agent(rt, client, make_actor, tmp_path)
    _send_reminder(client, make_actor, state.device_id)

    integrate_all(rt)
    assert agent.sync(state, client, now=int(rt.clock.now().timestamp())) == ["remind"]
    assert agent.AgentState.load(state.path).last_seq == 1
    with rt.sessions() as session:
        row = session.scalars(select(CommandRow)).one()
    assert row.acked_at is not None


def test_agent_refuses_a_command_without_a_proven_ledger_entry(rt: Runtime, client: TestClient, make_actor, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    state = _enrolled_agent(rt, client, make_actor, tmp_path)
    _send_reminder(client, make_actor, state.device_id)
    integrate_all(rt)

    def require_proof(led: Mapping[str, Any]) -> None:
        if "inclusion" not in led:
            raise CommandRefused("ledger entry not proven included in a signed checkpoint")

    outcome = agent.sync(state, client, require_proof, now=int(rt.clock.now().timestamp()))
    assert outcome == ["refused: ledger entry not proven included in a signed checkpoint"]
    assert state.last_seq == 0
    with rt.sessions() as session:
        row = session.scalars(select(CommandRow)).one()
        bodies = session.scalars(select(LedgerEntryRow.body).where(LedgerEntryRow.action == "device.ack")).all()
    assert [json.loads(b)["decision"] for b in bodies] == ["refused"]  # the refusal itself is acknowledged, so the log shows it
    assert row.acked_at is None  # ... but a refused reminder is not a delivered one
    assert agent.sync(state, client, require_proof, now=int(rt.clock.now().timestamp()))[0].startswith("refused")
    with rt.sessions() as session:
        assert len(session.scalars(select(LedgerEntryRow).where(LedgerEntryRow.action == "device.ack")).all()) == 1  # reported once


def _lock_screen() -> dict[str, str]:
    rules = DeviceRules()
    return {"lender_contact": rules.lender_contact, "how_to_pay": rules.how_to_pay, "how_to_complain": rules.how_to_complain}


def _issue(rt: Runtime, device_id: str, command: Command, **kw: Any) -> None:
    with rt.sessions() as session:
        device = session.get(DeviceRow, device_id)
        assert device is not None
        args = kw.pop("args", {})
        devices.issue(session, rt, device, command, DeviceRules(), args=args, approvals=kw.pop("approvals", []), request_id=None, **kw)
        session.commit()


def test_a_server_alone_cannot_make_a_witnessed_phone_lock(rt: Runtime, client: TestClient, make_actor, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The server signs a lock with approvals it made up and a checkpoint it signed itself: refused."""
    state = _enrolled_agent(rt, client, make_actor, tmp_path)
    pinned = WitnessKey.create(tmp_path / "w1.json", "witness.example/w1")
    other = WitnessKey.create(tmp_path / "w2.json", "witness.example/w2")
    rt.settings = rt.settings.model_copy(update={"ledger_witness_keys": [pinned.verifier_key(), other.verifier_key()]})
    state.witness_keys = [pinned.verifier_key()]
    made_up = [hashlib.sha256(b"nobody").hexdigest(), hashlib.sha256(b"no one").hexdigest()]
    _issue(rt, state.device_id, Command.LOCK, args=_lock_screen(), approvals=made_up)
    integrate_all(rt)
    now = int(rt.clock.now().timestamp())
    assert agent.sync(state, client, now=now) == ["refused: checkpoint not cosigned by a pinned witness"]
    log_key = client.get("/v1/ledger/key").text.strip()

    def cosign(key: WitnessKey) -> None:
        line, seen = check_and_cosign(client.get("/v1/ledger/checkpoint").text, log_key, None, None, key)
        assert client.post("/v1/ledger/cosignatures", json={"size": seen["size"], "line": line}).status_code == 201

    cosign(other)  # a witness the phone does not pin proves nothing to it
    assert agent.sync(state, client, now=now) == ["refused: checkpoint not cosigned by a pinned witness"]
    assert (state.lock_state, state.last_seq) == ("active", 0)
    cosign(pinned)  # now the entry is in a tree the witness has seen: it cannot be hidden from audit
    assert agent.sync(state, client, now=now) == ["lock"]
    assert state.lock_state == "locked"
    assert "emergency calls" in state.screen["always_available"]


def test_key_rotation_is_announced_under_the_old_key_and_retires_it(rt: Runtime, client: TestClient, make_actor, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    state = _enrolled_agent(rt, client, make_actor, tmp_path)
    (old_kid,) = state.command_keys
    with rt.sessions() as session:
        (announcement,) = rotate_command_key(session, rt, DeviceRules())
        session.commit()
    new_kid, _ = devices.command_key(rt)
    assert new_kid != old_kid
    assert peek_header(announcement.token)["kid"] == old_kid
    _send_reminder(client, make_actor, state.device_id)
    with rt.sessions() as session:
        reminder = session.scalars(select(CommandRow).where(CommandRow.command == "remind")).one()
    assert peek_header(reminder.token)["kid"] == new_kid  # the server signs with the new key only
    integrate_all(rt)
    now = int(rt.clock.now().timestamp())
    assert agent.sync(state, client, now=now) == ["rotate_key", "remind"]
    assert set(agent.AgentState.load(state.path).command_keys) == {new_kid}
    _issue(rt, state.device_id, Command.REMIND, args={"message_zh": "旧钥匙"}, sign_with=old_kid.removeprefix("cmd-"))
    integrate_all(rt)
    assert agent.sync(state, client, now=now) == [f"refused: unknown or retired signing key {old_kid!r}"]


def test_offline_the_phone_stays_as_it_is(rt: Runtime, client: TestClient, make_actor, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    state = _enrolled_agent(rt, client, make_actor, tmp_path)
    state.server = "http://127.0.0.1:9"  # nothing listens there
    with httpx.Client(timeout=1) as offline:
        for days in (0, 3, 30, 365):  # no timer: nothing happens however long the phone is offline
            with pytest.raises(agent.AgentError, match="unreachable"):
                agent.sync(state, offline, now=int(rt.clock.now().timestamp()) + days * 86_400)
    assert (state.lock_state, state.last_seq) == ("active", 0)


def test_payoff_releases_with_a_certificate_and_nothing_after(rt: Runtime, client: TestClient, make_actor, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    state = _enrolled_agent(rt, client, make_actor, tmp_path)
    with rt.sessions() as session:
        loan = session.get(LoanRow, "L-a")
        assert loan is not None
        loan.status, loan.overdue_days = "paid_off", 0
        devices.on_loan_state(session, rt, "L-a", DeviceRules())
        session.commit()
    integrate_all(rt)
    now = int(rt.clock.now().timestamp())
    assert agent.sync(state, client, now=now) == ["release"]
    _, cert = verify_compact(state.release_certificate, state.command_keys, "lendshield-release-certificate")
    assert (cert["dev"], cert["loan"]) == (state.device_id, "L-a")
    _issue(rt, state.device_id, Command.LOCK, args=_lock_screen(), approvals=["a" * 64, "b" * 64])
    integrate_all(rt)
    assert agent.sync(state, client, now=now) == ["refused: released: this phone is no longer under the lender's control"]
    assert state.lock_state == "released"
