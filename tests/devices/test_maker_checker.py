"""Lock only with reasons, preconditions and maker-checker approval; unlock at once on payment.

The seed: 每一次远程操作都有充分理由且经过多层审批 (every remote operation with sufficient reason
and multi-level approval). No rule in law yet; derived from PIPL Arts. 16 and 24 (REGULATION.md).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from lendshield.clock import FrozenClock
from lendshield.crypto.jws import public_raw, sign_compact
from lendshield.devices import service as devices
from lendshield.devices.errors import ApprovalRefused, PreconditionFailed, RequestClosed
from lendshield.devices.models import CommandRow, DeviceRow
from lendshield.devices.protocol import ACK_TYP, verify_command
from lendshield.errors import InvalidInput
from lendshield.ledger.models import LedgerEntryRow
from lendshield.loans.models import LoanRow
from lendshield.runtime import Runtime
from lendshield.subjects import service as subjects
from tests.devices.support import IMEI, grant_device_consent

RULES = devices.DeviceRules()


class Phone:
    """Just enough of a device to verify commands and sign acknowledgements."""

    def __init__(self, rt: Runtime, device_id: str, key: Ed25519PrivateKey) -> None:
        self.rt, self.id, self.key, self.last_seq = rt, device_id, key, 0
        kid, raw = devices.command_key(rt)
        self.keys = {kid: raw}

    def sync(self) -> list[str]:
        applied = []
        with self.rt.sessions() as session:
            for row in devices.pending_commands(session, self.id, self.last_seq):
                cmd = verify_command(
                    row.token,
                    keys=self.keys,
                    device_id=self.id,
                    last_seq=self.last_seq,
                    now=int(self.rt.clock.now().timestamp()),
                    ledger_check=lambda _led: None,
                )
                ack = sign_compact(self.key, f"dev-{self.id}", {"dev": self.id, "seq": cmd.seq, "result": "applied"}, ACK_TYP)
                devices.acknowledge(session, self.rt, self.id, ack)
                self.last_seq = cmd.seq
                applied.append(cmd.command.value)
            session.commit()
        return applied


@pytest.fixture
def world(rt: Runtime, make_actor) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    loans_system = make_actor("loan_system")
    people = {r: make_actor(r) for r in ("collector", "collection_supervisor", "risk_officer", "device_operator")}
    key = Ed25519PrivateKey.generate()
    with rt.sessions() as session:
        sid, _ = subjects.create_subject(session, rt, loans_system.principal, kind="borrower", fields={"name": "赵六"})
        session.add(
            LoanRow(
                id="L-1",
                borrower_id=sid,
                principal_amount=Decimal(3000),
                status="overdue",
                overdue_days=75,
                assigned_collector_id=people["collector"].principal.id,
                synthetic=True,
                created_at=rt.clock.now(),
                updated_at=rt.clock.now(),
            )
        )
        session.flush()
        grant_device_consent(session, rt, sid)
        device_id = devices.enroll(
            session, rt, people["device_operator"].principal, loan_id="L-1", device_public_key=public_raw(key), imei=IMEI
        )
        session.commit()
    return {"people": people, "device": device_id, "phone": Phone(rt, device_id, key), "borrower": sid}


def _remind(rt: Runtime, world: dict[str, Any], final: bool) -> None:
    with rt.sessions() as session:
        devices.remind(
            session, rt, world["people"]["collector"].principal, world["device"], message_zh="请按时还款", final=final, rules=RULES
        )
        session.commit()
    world["phone"].sync()


def _request(rt: Runtime, world: dict[str, Any], who: str = "collector") -> str:
    with rt.sessions() as session:
        rid = devices.request_command(
            session,
            rt,
            world["people"][who].principal,
            world["device"],
            command="lock",
            reason_code="overdue_unresponsive",
            reason_text="75 days overdue, no answer to two reminders",
            rules=RULES,
        )
        session.commit()
    return rid


def _review(rt: Runtime, world: dict[str, Any], who: str, rid: str, approve: bool = True) -> str:
    with rt.sessions() as session:
        status = devices.review(session, rt, world["people"][who].principal, rid, approve=approve, reason="checked the file", rules=RULES)
        session.commit()
    return status


def _ready(rt: Runtime, clock: FrozenClock, world: dict[str, Any]) -> None:
    _remind(rt, world, final=False)
    _remind(rt, world, final=True)
    clock.advance(timedelta(days=RULES.final_notice_days, minutes=1))


def test_lock_needs_two_roles_then_payment_unlocks_at_once(rt: Runtime, clock: FrozenClock, world: dict[str, Any]) -> None:
    _ready(rt, clock, world)
    rid = _request(rt, world)
    assert _review(rt, world, "collection_supervisor", rid) == "pending"
    assert world["phone"].sync() == []  # nothing is sent on one approval
    assert _review(rt, world, "risk_officer", rid) == "issued"
    assert world["phone"].sync() == ["lock"]
    with rt.sessions() as session:
        assert session.get(DeviceRow, world["device"]).state == "locked"  # type: ignore[union-attr]
        loan = session.get(LoanRow, "L-1")
        assert loan is not None
        loan.overdue_days, loan.status = 0, "current"
        devices.on_loan_state(session, rt, "L-1", RULES)
        session.commit()
    assert world["phone"].sync() == ["unlock"]
    with rt.sessions() as session:
        loan = session.get(LoanRow, "L-1")
        assert loan is not None
        loan.status = "paid_off"
        devices.on_loan_state(session, rt, "L-1", RULES)
        session.commit()
    assert world["phone"].sync() == ["release"]
    with rt.sessions() as session:
        assert session.get(DeviceRow, world["device"]).state == "released"  # type: ignore[union-attr]
        actions = session.scalars(select(LedgerEntryRow.action).where(LedgerEntryRow.action.like("device.%"))).all()
    for action in ("device.enroll", "device.request", "device.review", "device.command", "device.ack"):
        assert action in actions


def test_preconditions_refuse_and_are_recorded(rt: Runtime, clock: FrozenClock, world: dict[str, Any]) -> None:
    with pytest.raises(PreconditionFailed) as refused:
        _request(rt, world)
    problems = refused.value.extra["problems"]
    assert any("reminders" in p for p in problems)
    assert any("final notice" in p for p in problems)
    _remind(rt, world, final=False)
    _remind(rt, world, final=True)
    with pytest.raises(PreconditionFailed, match="less than 7 days"):
        _request(rt, world)


def test_not_enough_days_overdue(rt: Runtime, clock: FrozenClock, world: dict[str, Any]) -> None:
    _ready(rt, clock, world)
    with rt.sessions() as session:
        loan = session.get(LoanRow, "L-1")
        assert loan is not None
        loan.overdue_days = 10
        session.commit()
    with pytest.raises(PreconditionFailed, match="10 days overdue"):
        _request(rt, world)


def test_nobody_approves_their_own_request(rt: Runtime, clock: FrozenClock, world: dict[str, Any]) -> None:
    _ready(rt, clock, world)
    rid = _request(rt, world, who="collection_supervisor")
    with pytest.raises(ApprovalRefused, match="own request"):
        _review(rt, world, "collection_supervisor", rid)


def test_distinct_roles_and_people(rt: Runtime, clock: FrozenClock, world: dict[str, Any], make_actor) -> None:  # type: ignore[no-untyped-def]
    _ready(rt, clock, world)
    rid = _request(rt, world)
    _review(rt, world, "collection_supervisor", rid)
    with pytest.raises(ApprovalRefused, match="already reviewed"):
        _review(rt, world, "collection_supervisor", rid)
    world["people"]["supervisor2"] = make_actor("collection_supervisor")
    with pytest.raises(ApprovalRefused, match="another role"):
        _review(rt, world, "supervisor2", rid)
    with pytest.raises(ApprovalRefused, match="approvals come from"):
        _review(rt, world, "device_operator", rid)


def test_a_denial_closes_the_request(rt: Runtime, clock: FrozenClock, world: dict[str, Any]) -> None:
    _ready(rt, clock, world)
    rid = _request(rt, world)
    assert _review(rt, world, "risk_officer", rid, approve=False) == "denied"
    with pytest.raises(RequestClosed):
        _review(rt, world, "collection_supervisor", rid)
    assert world["phone"].sync() == []


def test_approvals_expire(rt: Runtime, clock: FrozenClock, world: dict[str, Any]) -> None:
    _ready(rt, clock, world)
    rid = _request(rt, world)
    _review(rt, world, "collection_supervisor", rid)
    clock.advance(RULES.approval_ttl + timedelta(minutes=1))
    assert _review(rt, world, "risk_officer", rid) == "expired"
    assert world["phone"].sync() == []


def test_a_forged_acknowledgement_is_refused(rt: Runtime, world: dict[str, Any]) -> None:
    from lendshield.errors import Forbidden

    with rt.sessions() as session:
        devices.remind(session, rt, world["people"]["collector"].principal, world["device"], message_zh="提醒", final=False, rules=RULES)
        session.commit()
    forged = sign_compact(
        Ed25519PrivateKey.generate(), f"dev-{world['device']}", {"dev": world["device"], "seq": 1, "result": "applied"}, ACK_TYP
    )
    with rt.sessions() as session, pytest.raises(Forbidden, match="bad signature"):
        devices.acknowledge(session, rt, world["device"], forged)


def test_payment_event_over_http_unlocks_and_payoff_releases(rt: Runtime, clock: FrozenClock, client, make_actor, world) -> None:  # type: ignore[no-untyped-def]
    _ready(rt, clock, world)
    rid = _request(rt, world)
    _review(rt, world, "collection_supervisor", rid)
    _review(rt, world, "risk_officer", rid)
    assert world["phone"].sync() == ["lock"]
    loans = make_actor("loan_system")
    paid = client.post(
        "/v1/loans/L-1/events", json={"id": "pay-1", "kind": "payment", "amount": "500.00", "overdue_days": 0}, headers=loans.headers
    )
    assert paid.status_code in (200, 201), paid.text
    assert world["phone"].sync() == ["unlock"]
    again = client.post(
        "/v1/loans/L-1/events", json={"id": "pay-1", "kind": "payment", "amount": "500.00", "overdue_days": 0}, headers=loans.headers
    )
    assert again.status_code in (200, 201)
    with rt.sessions() as session:
        assert session.scalars(select(CommandRow.command).where(CommandRow.command == "unlock")).all() == ["unlock"]  # once
    payoff = client.post("/v1/loans/L-1/events", json={"id": "payoff-1", "kind": "payoff"}, headers=loans.headers)
    assert payoff.status_code in (200, 201), payoff.text
    assert world["phone"].sync() == ["release"]
    with rt.sessions() as session:
        assert session.get(DeviceRow, world["device"]).state == "released"  # type: ignore[union-attr]


def test_over_http_no_self_approval_and_one_approval_sends_nothing(rt: Runtime, clock: FrozenClock, client, world) -> None:  # type: ignore[no-untyped-def]
    _ready(rt, clock, world)
    rid = _request(rt, world, who="collection_supervisor")
    own = client.post(
        f"/v1/devices/requests/{rid}/review",
        json={"approve": True, "reason": "mine"},
        headers=world["people"]["collection_supervisor"].headers,
    )
    assert own.status_code == 403
    assert "own request" in own.json()["detail"]
    risk = client.post(
        f"/v1/devices/requests/{rid}/review", json={"approve": True, "reason": "ok"}, headers=world["people"]["risk_officer"].headers
    )
    assert risk.json() == {"status": "pending"}  # one approval of two: unapproved, nothing issued
    with rt.sessions() as session:
        assert session.scalars(select(CommandRow).where(CommandRow.command == "lock")).all() == []
    assert world["phone"].sync() == []


def test_unknown_commands_and_oversized_requests_are_refused(rt: Runtime, clock: FrozenClock, client, world) -> None:  # type: ignore[no-untyped-def]
    _ready(rt, clock, world)
    collector = world["people"]["collector"]
    with rt.sessions() as session:
        for name in ("wipe", "read_location", "unlock"):
            with pytest.raises(InvalidInput):
                devices.request_command(
                    session, rt, collector.principal, world["device"], command=name, reason_code="other", reason_text="x" * 20, rules=RULES
                )
    url = f"/v1/devices/{world['device']}/requests"
    body = {"command": "lock", "reason_code": "overdue_unresponsive", "reason_text": "x" * 1001}
    assert client.post(url, json=body, headers=collector.headers).status_code == 422
    assert client.post(url, json=body | {"reason_text": "long enough", "extra": 1}, headers=collector.headers).status_code == 422
