"""Enrolment only with the borrower's consent to the current device notice; what a withdrawal does.

PIPL Art. 14 (consent to a notice; a changed notice needs consent again), Art. 15 (withdrawal,
at once, for the future), Art. 17 (what the notice tells: every remote action and when).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from lendshield.clock import FrozenClock
from lendshield.consent import service as consent
from lendshield.crypto.jws import b64url, public_raw
from lendshield.devices import notice
from lendshield.devices import service as devices
from lendshield.devices.errors import DeviceConsentRequired, PreconditionFailed
from lendshield.devices.models import CommandRow, DeviceRow
from lendshield.devices.protocol import ALWAYS_AVAILABLE, COMMANDS, Command
from lendshield.ledger.models import LedgerEntryRow
from lendshield.loans.models import LoanRow
from lendshield.runtime import Runtime
from lendshield.subjects import service as subjects
from tests.devices.support import (
    IMEI,
    LOAN_SYSTEM,
    OFFICER,
    grant_device_consent,
    publish_device_notice,
    withdraw_device_consent,
)
from tests.devices.test_maker_checker import RULES, _ready, _remind, _request, _review, world  # noqa: F401 (fixture)

PROBLEM = "application/problem+json"


@pytest.fixture
def borrower(rt: Runtime) -> str:
    """A borrower with an overdue loan L-c and no consent to the device notice yet."""
    with rt.sessions() as session:
        sid, _ = subjects.create_subject(session, rt, LOAN_SYSTEM, kind="borrower", fields={"name": "吴十"})
        session.add(
            LoanRow(
                id="L-c",
                borrower_id=sid,
                principal_amount=Decimal(2500),
                status="overdue",
                overdue_days=70,
                assigned_collector_id=None,
                synthetic=True,
                created_at=rt.clock.now(),
                updated_at=rt.clock.now(),
            )
        )
        session.commit()
    return sid


def _enrol(rt: Runtime, make_actor, **kw: Any) -> str:  # type: ignore[no-untyped-def]
    operator = make_actor("device_operator")
    with rt.sessions() as session:
        device_id = devices.enroll(
            session, rt, operator.principal, loan_id="L-c", device_public_key=public_raw(Ed25519PrivateKey.generate()), imei=IMEI, **kw
        )
        session.commit()
    return device_id


def _nothing_enrolled(rt: Runtime, subject_id: str) -> None:
    with rt.sessions() as session:
        assert session.scalar(select(func.count()).select_from(DeviceRow)) == 0
        assert session.scalar(select(func.count()).select_from(LedgerEntryRow).where(LedgerEntryRow.action == "device.enroll")) == 0
        corrections = session.scalar(select(func.count()).select_from(LedgerEntryRow).where(LedgerEntryRow.action == "subject.correct"))
        assert corrections == 0  # the IMEI was not written to the vault either


# --- the service ---


def test_enrolment_refused_without_consent(rt: Runtime, make_actor, borrower: str) -> None:  # type: ignore[no-untyped-def]
    with rt.sessions() as session:
        publish_device_notice(session, rt)
        session.commit()
    with pytest.raises(DeviceConsentRequired, match="has not consented to the device notice"):
        _enrol(rt, make_actor)
    _nothing_enrolled(rt, borrower)


def test_enrolment_refused_while_the_device_notice_is_unpublished(rt: Runtime, make_actor, borrower: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DeviceConsentRequired, match="not published yet"):
        _enrol(rt, make_actor)
    _nothing_enrolled(rt, borrower)


def test_enrolment_refused_with_consent_to_an_older_device_notice(rt: Runtime, make_actor, borrower: str) -> None:  # type: ignore[no-untyped-def]
    older = replace(RULES, lock_min_overdue_days=30)  # the notice said 30 days; the rules now say 60
    with rt.sessions() as session:
        old_version = grant_device_consent(session, rt, borrower, older)
        publish_device_notice(session, rt)
        session.commit()
    assert old_version != notice.current_version(rt, RULES)
    with pytest.raises(DeviceConsentRequired, match=f"consent is to notice {old_version}, not to the current device notice"):
        _enrol(rt, make_actor)
    _nothing_enrolled(rt, borrower)


def test_enrolment_refused_with_consent_to_the_general_notice_only(rt: Runtime, make_actor, borrower: str) -> None:  # type: ignore[no-untyped-def]
    with rt.sessions() as session:
        general = consent.ensure_default_notice(session, rt, OFFICER).version
        consent.record(session, rt, LOAN_SYSTEM, borrower, purpose="device_management", action="grant", notice_version=general)
        publish_device_notice(session, rt)
        session.commit()
    with pytest.raises(DeviceConsentRequired, match=f"consent is to notice {general}"):
        _enrol(rt, make_actor)
    _nothing_enrolled(rt, borrower)


def test_enrolment_refused_after_withdrawal(rt: Runtime, make_actor, borrower: str) -> None:  # type: ignore[no-untyped-def]
    with rt.sessions() as session:
        grant_device_consent(session, rt, borrower)
        withdraw_device_consent(session, rt, borrower)
        session.commit()
    with pytest.raises(DeviceConsentRequired, match="withdrew their consent"):
        _enrol(rt, make_actor)
    _nothing_enrolled(rt, borrower)


def test_enrolment_refused_after_a_refusal(rt: Runtime, make_actor, borrower: str) -> None:  # type: ignore[no-untyped-def]
    with rt.sessions() as session:
        version = publish_device_notice(session, rt)
        consent.record(session, rt, LOAN_SYSTEM, borrower, purpose="device_management", action="refuse", notice_version=version)
        session.commit()
    with pytest.raises(DeviceConsentRequired, match="refused the device notice"):
        _enrol(rt, make_actor)
    _nothing_enrolled(rt, borrower)


def test_enrolment_refused_when_the_notice_shown_is_not_the_current_one(rt: Runtime, make_actor, borrower: str) -> None:  # type: ignore[no-untyped-def]
    with rt.sessions() as session:
        grant_device_consent(session, rt, borrower)
        session.commit()
    with pytest.raises(DeviceConsentRequired, match="is not the current device notice"):
        _enrol(rt, make_actor, notice_version="device-0000000000000000")
    _nothing_enrolled(rt, borrower)


def test_enrolment_with_consent_records_the_notice(rt: Runtime, make_actor, borrower: str) -> None:  # type: ignore[no-untyped-def]
    with rt.sessions() as session:
        version = grant_device_consent(session, rt, borrower)
        session.commit()
    device_id = _enrol(rt, make_actor, notice_version=version)
    with rt.sessions() as session:
        device = session.get(DeviceRow, device_id)
        assert device is not None
        assert (device.notice_version, device.borrower_id, device.state) == (version, borrower, "active")
        entry = session.scalars(select(LedgerEntryRow).where(LedgerEntryRow.action == "device.enroll")).one()
        assert entry.details is not None
        assert entry.details["notice_version"] == version


# --- the notice itself ---


def test_the_notice_lists_exactly_the_remote_actions_and_when(rt: Runtime) -> None:
    draft = notice.draft(rt, RULES)
    assert set(notice.ACTIONS) == COMMANDS - {Command.ROTATE_KEY}
    text = draft.sections["purposes"]["en"]
    for action in notice.ACTIONS:
        assert f"{action.value}: " in text
    assert text.count("\n1. ") + text.count("\n2. ") + text.count("\n3. ") + text.count("\n4. ") + text.count("\n5. ") == 5
    assert "\n6. " not in text
    assert f"at least {RULES.lock_min_overdue_days} days overdue" in text
    assert f"at least {RULES.reminders_required} reminders" in text
    assert f"at least {RULES.final_notice_days} days after a final notice" in text
    assert ", ".join(RULES.approver_roles) in text
    assert "complaint, dispute or rights request" in text
    for kept in ALWAYS_AVAILABLE:
        assert kept in text
    for never in ("location", "contacts", "photos", "messages", "files", "wipe", "run any code", "on a timer"):
        assert never in text
    zh = draft.sections["purposes"]["zh"]
    assert f"逾期至少{RULES.lock_min_overdue_days}天" in zh
    assert all(f"（{a.value}）" in zh for a in notice.ACTIONS)
    assert draft.purpose_fields == {"device_management": ["device_imei", "name"]}


@pytest.mark.parametrize(
    "change",
    [
        {"lock_min_overdue_days": 90},
        {"reminders_required": 3},
        {"final_notice_days": 14},
        {"approval_ttl": timedelta(hours=12)},
        {"approver_roles": ("collection_supervisor", "risk_officer", "protection_officer")},
    ],
)
def test_another_precondition_is_another_notice_version(rt: Runtime, change: dict[str, Any]) -> None:
    assert notice.current_version(rt, replace(RULES, **change)) != notice.current_version(rt, RULES)


def test_the_published_notice_is_the_text_and_hash_shown(rt: Runtime, client: TestClient, make_actor) -> None:  # type: ignore[no-untyped-def]
    officer = make_actor("protection_officer")
    shown = client.get("/v1/devices/notice", headers=officer.headers).json()
    assert shown["published"] is False
    made = client.post("/v1/devices/notice", headers=officer.headers)
    assert made.status_code == 201
    assert made.json()["version"] == shown["version"]
    assert made.json()["text_en"] == shown["text_en"]
    assert client.get("/v1/devices/notice", headers=officer.headers).json()["published"] is True
    assert client.post("/v1/devices/notice", headers=officer.headers).json() == made.json()  # idempotent


@pytest.mark.parametrize("role", ["device_operator", "loan_system", "collector", "collection_supervisor", "risk_officer", "auditor"])
def test_only_the_protection_officer_publishes_the_device_notice(client: TestClient, make_actor, role: str) -> None:  # type: ignore[no-untyped-def]
    resp = client.post("/v1/devices/notice", headers=make_actor(role).headers)
    assert resp.status_code == 403
    assert resp.headers["content-type"].startswith(PROBLEM)


def test_the_device_notice_needs_a_signed_in_caller(client: TestClient) -> None:
    assert client.get("/v1/devices/notice").status_code == 401


# --- over HTTP: each denial its own test, as problem+json ---


def _http_enrol(client: TestClient, make_actor) -> Any:  # type: ignore[no-untyped-def]
    body = {"loan_id": "L-c", "public_key": b64url(public_raw(Ed25519PrivateKey.generate())), "imei": IMEI}
    return client.post("/v1/devices", json=body, headers=make_actor("device_operator").headers)


def _refused(resp: Any, detail: str) -> None:
    assert resp.status_code == 409, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM)
    problem = resp.json()
    assert problem["type"] == "https://lendshield.dev/problems/device-consent-required"
    assert detail in problem["detail"]
    assert IMEI not in resp.text


def test_http_enrolment_refused_without_consent(rt: Runtime, client: TestClient, make_actor, borrower: str) -> None:  # type: ignore[no-untyped-def]
    with rt.sessions() as session:
        publish_device_notice(session, rt)
        session.commit()
    _refused(_http_enrol(client, make_actor), "has not consented to the device notice")
    _nothing_enrolled(rt, borrower)


def test_http_enrolment_refused_with_consent_to_an_older_notice(rt: Runtime, client: TestClient, make_actor, borrower: str) -> None:  # type: ignore[no-untyped-def]
    with rt.sessions() as session:
        grant_device_consent(session, rt, borrower, replace(RULES, reminders_required=1))
        publish_device_notice(session, rt)
        session.commit()
    _refused(_http_enrol(client, make_actor), "not to the current device notice")
    _nothing_enrolled(rt, borrower)


def test_http_enrolment_refused_after_withdrawal(rt: Runtime, client: TestClient, make_actor, borrower: str) -> None:  # type: ignore[no-untyped-def]
    with rt.sessions() as session:
        grant_device_consent(session, rt, borrower)
        session.commit()
    withdrawn = client.post(
        f"/v1/subjects/{borrower}/consents",
        json={"purpose": "device_management", "action": "withdraw", "channel": "app"},
        headers=make_actor("customer_service").headers,
    )
    assert withdrawn.status_code == 201, withdrawn.text
    _refused(_http_enrol(client, make_actor), "withdrew their consent")
    _nothing_enrolled(rt, borrower)


def test_http_enrolment_with_consent(rt: Runtime, client: TestClient, make_actor, borrower: str) -> None:  # type: ignore[no-untyped-def]
    officer, loans = make_actor("protection_officer"), make_actor("loan_system")
    version = client.post("/v1/devices/notice", headers=officer.headers).json()["version"]
    granted = client.post(
        f"/v1/subjects/{borrower}/consents",
        json={"purpose": "device_management", "action": "grant", "notice_version": version, "channel": "app"},
        headers=loans.headers,
    )
    assert granted.status_code == 201, granted.text
    made = _http_enrol(client, make_actor)
    assert made.status_code == 201, made.text
    assert IMEI not in made.text


# --- after a withdrawal: the lender's control ends, the borrower's protections go on ---


def _withdraw(rt: Runtime, world: dict[str, Any]) -> None:  # noqa: F811
    with rt.sessions() as session:
        withdraw_device_consent(session, rt, world["borrower"])
        session.commit()


def test_no_reminder_after_withdrawal(rt: Runtime, world: dict[str, Any]) -> None:  # noqa: F811
    _withdraw(rt, world)
    with pytest.raises(DeviceConsentRequired, match="no remind may be sent"):
        _remind(rt, world, final=False)
    with rt.sessions() as session:
        assert session.scalar(select(func.count()).select_from(CommandRow)) == 0


def test_no_lock_request_after_withdrawal(rt: Runtime, clock: FrozenClock, world: dict[str, Any]) -> None:  # noqa: F811
    _ready(rt, clock, world)
    _withdraw(rt, world)
    with pytest.raises(PreconditionFailed, match="withdrew their consent") as refused:
        _request(rt, world)
    assert refused.value.extra["problems"] == ["the borrower withdrew their consent to the device notice"]  # the rest is met


def test_no_approval_of_a_pending_lock_after_withdrawal(rt: Runtime, clock: FrozenClock, world: dict[str, Any]) -> None:  # noqa: F811
    _ready(rt, clock, world)
    rid = _request(rt, world)
    assert _review(rt, world, "collection_supervisor", rid) == "pending"
    _withdraw(rt, world)
    with pytest.raises(DeviceConsentRequired, match="no lock may be sent"):
        _review(rt, world, "risk_officer", rid)
    with rt.sessions() as session:
        assert session.scalar(select(func.count()).select_from(CommandRow).where(CommandRow.command == "lock")) == 0


def test_a_locked_phone_is_unlocked_at_its_next_checkin_after_withdrawal(rt: Runtime, clock: FrozenClock, world: dict[str, Any]) -> None:  # noqa: F811
    _ready(rt, clock, world)
    rid = _request(rt, world)
    _review(rt, world, "collection_supervisor", rid)
    assert _review(rt, world, "risk_officer", rid) == "issued"
    assert world["phone"].sync() == ["lock"]
    _withdraw(rt, world)
    with rt.sessions() as session:
        ready, waiting = devices.deliverable(session, rt, world["device"], world["phone"].last_seq, RULES)
        session.commit()
    assert ready == []
    assert len(waiting) == 1  # the unlock, issued at once; it waits for the log like any command
    assert world["phone"].sync() == ["unlock"]  # the loan is still 75 days overdue
    with rt.sessions() as session:
        assert session.get(DeviceRow, world["device"]).state == "active"  # type: ignore[union-attr]


def test_an_undelivered_lock_is_withheld_after_withdrawal(rt: Runtime, clock: FrozenClock, world: dict[str, Any]) -> None:  # noqa: F811
    from lendshield.ledger.tree import integrate_all

    _ready(rt, clock, world)
    rid = _request(rt, world)
    _review(rt, world, "collection_supervisor", rid)
    _review(rt, world, "risk_officer", rid)  # issued, not yet on the phone
    integrate_all(rt)
    _withdraw(rt, world)
    with rt.sessions() as session:
        ready, waiting = devices.deliverable(session, rt, world["device"], world["phone"].last_seq, RULES)
        session.commit()
    assert ready == []
    assert waiting == []  # the lock is not delivered; the phone was never locked, so no unlock either


def test_payment_still_unlocks_and_payoff_still_releases_after_withdrawal(rt: Runtime, clock: FrozenClock, world: dict[str, Any]) -> None:  # noqa: F811
    _ready(rt, clock, world)
    rid = _request(rt, world)
    _review(rt, world, "collection_supervisor", rid)
    _review(rt, world, "risk_officer", rid)
    assert world["phone"].sync() == ["lock"]
    _withdraw(rt, world)
    with rt.sessions() as session:
        loan = session.get(LoanRow, "L-1")
        assert loan is not None
        loan.overdue_days, loan.status = 0, "paid_off"
        issued = devices.on_loan_state(session, rt, "L-1", RULES)
        session.commit()
    assert [r.command for r in issued] == ["release"]
    assert world["phone"].sync() == ["release"]


def test_consent_given_again_restores_reminders(rt: Runtime, world: dict[str, Any]) -> None:  # noqa: F811
    _withdraw(rt, world)
    with rt.sessions() as session:
        grant_device_consent(session, rt, world["borrower"])
        session.commit()
    _remind(rt, world, final=False)
    assert world["phone"].last_seq == 1


def _enrolled_then_withdrawn(rt: Runtime, client: TestClient, make_actor, borrower: str) -> str:  # type: ignore[no-untyped-def]
    with rt.sessions() as session:
        grant_device_consent(session, rt, borrower)
        session.commit()
    made = _http_enrol(client, make_actor)
    assert made.status_code == 201, made.text
    with rt.sessions() as session:
        withdraw_device_consent(session, rt, borrower)
        session.commit()
    return str(made.json()["device_id"])


def test_http_reminder_refused_after_withdrawal(rt: Runtime, client: TestClient, make_actor, borrower: str) -> None:  # type: ignore[no-untyped-def]
    device_id = _enrolled_then_withdrawn(rt, client, make_actor, borrower)
    resp = client.post(f"/v1/devices/{device_id}/reminders", json={"message_zh": "请还款"}, headers=make_actor("collector").headers)
    _refused(resp, "withdrew their consent")


def test_http_lock_request_refused_after_withdrawal(rt: Runtime, client: TestClient, make_actor, borrower: str) -> None:  # type: ignore[no-untyped-def]
    device_id = _enrolled_then_withdrawn(rt, client, make_actor, borrower)
    body = {"command": "lock", "reason_code": "overdue_unresponsive", "reason_text": "seventy days overdue, unreachable"}
    resp = client.post(f"/v1/devices/{device_id}/requests", json=body, headers=make_actor("collector").headers)
    assert resp.status_code == 409
    assert resp.headers["content-type"].startswith(PROBLEM)
    assert "withdrew their consent" in resp.json()["detail"]
    with rt.sessions() as session:  # the refusal is kept in the ledger
        entry = session.scalars(select(LedgerEntryRow).where(LedgerEntryRow.action == "device.request")).one()
        assert entry.details is not None
        assert entry.details["problems"][-1] == "the borrower withdrew their consent to the device notice"  # type: ignore[index]


def test_the_device_notice_never_becomes_the_current_general_notice(
    rt: Runtime,
    clock: FrozenClock,
    client: TestClient,
    make_actor: Any,
) -> None:
    """PIPL Art. 17: the person is shown the service's privacy notice; a device notice published
    after it is a notice of one purpose and must not take its place."""
    with rt.sessions() as session:
        general = consent.ensure_default_notice(session, rt, OFFICER)
        session.commit()
    clock.advance(timedelta(hours=1))  # published after the general notice, as in a real deployment
    with rt.sessions() as session:
        device_version = publish_device_notice(session, rt)
        session.commit()
    with rt.sessions() as session:
        current = consent.current_notice(session)
        assert current is not None
        assert (current.version, current.scope) == (general.version, "general")
        own = consent.current_notice(session, scope=notice.SCOPE)
        assert own is not None
        assert (own.version, own.scope) == (device_version, "device")
    sid = subjects_for_portal(rt)
    cs = make_actor("customer_service")
    shown = client.get(f"/v1/portal/subjects/{sid}/notice", headers=cs.headers)
    assert shown.status_code == 200, shown.text
    assert shown.json()["notice"]["version"] == general.version
    assert shown.json()["notice"]["scope"] == "general"


def subjects_for_portal(rt: Runtime) -> str:
    with rt.sessions() as session:
        sid, _ = subjects.create_subject(session, rt, LOAN_SYSTEM, kind="borrower", fields={"name": "郑十一"})
        session.commit()
    return sid
