"""The reference agent against the real app: verify, apply, acknowledge; refuse what fails."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from lendshield.crypto.jws import b64url
from lendshield.devices import agent
from lendshield.devices.models import CommandRow
from lendshield.devices.protocol import CommandRefused
from lendshield.loans.models import LoanRow
from lendshield.runtime import Runtime
from lendshield.subjects import service as subjects


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
        session.commit()
    state = agent.AgentState.create(tmp_path / "agent.json")
    assert (tmp_path / "agent.json").stat().st_mode & 0o777 == 0o600
    operator = make_actor("device_operator")
    made = client.post(
        "/v1/devices", json={"loan_id": "L-a", "public_key": b64url(state.public_key), "notice_version": "dn-1"}, headers=operator.headers
    ).json()
    state.pin(
        device_id=made["device_id"],
        server=str(client.base_url),
        command_kid=made["command_kid"],
        command_key=agent._unb64(made["command_key"]),
        ledger_key="",
    )
    return state


def _send_reminder(client: TestClient, make_actor, device_id: str) -> None:  # type: ignore[no-untyped-def]
    collector = make_actor("collector")
    assert client.post(f"/v1/devices/{device_id}/reminders", json={"message_zh": "请还款"}, headers=collector.headers).status_code == 201


def test_agent_applies_and_acknowledges(rt: Runtime, client: TestClient, make_actor, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    state = _enrolled_agent(rt, client, make_actor, tmp_path)
    _send_reminder(client, make_actor, state.device_id)

    def trust_entry(_led: Mapping[str, Any]) -> None:  # proofs are checked in the ledger-integrated end-to-end test
        return None

    assert agent.sync(state, client, trust_entry, now=int(rt.clock.now().timestamp())) == ["remind"]
    assert agent.AgentState.load(state.path).last_seq == 1
    with rt.sessions() as session:
        row = session.scalars(select(CommandRow)).one()
    assert row.acked_at is not None


def test_agent_refuses_a_command_without_a_proven_ledger_entry(rt: Runtime, client: TestClient, make_actor, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    state = _enrolled_agent(rt, client, make_actor, tmp_path)
    _send_reminder(client, make_actor, state.device_id)

    def require_proof(led: Mapping[str, Any]) -> None:
        if "inclusion" not in led:
            raise CommandRefused("ledger entry not proven included in a signed checkpoint")

    outcome = agent.sync(state, client, require_proof, now=int(rt.clock.now().timestamp()))
    assert outcome == ["refused: ledger entry not proven included in a signed checkpoint"]
    assert state.last_seq == 0
    with rt.sessions() as session:
        row = session.scalars(select(CommandRow)).one()
    assert row.ack_token is not None  # the refusal itself is acknowledged, so the log shows it
