"""The collection guard over HTTP: masked contact through the adapter, rules with their ids,
screening, complaints that pause collection, verification codes, signed callbacks (issue 7)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from lendshield.clock import FrozenClock
from lendshield.collection import recordings
from lendshield.collection.adapter import read_outbox
from lendshield.collection.models import ContactRow, OutboxRow
from lendshield.ledger.models import LedgerEntryRow
from lendshield.runtime import Runtime
from tests.collection.conftest import Case

BEIJING_2159 = datetime(2026, 11, 23, 13, 59, tzinfo=UTC)  # 21:59 in Beijing


def _contact(client: TestClient, case: Case, **body: object) -> dict:  # type: ignore[type-arg]
    resp = client.post("/v1/collection/contacts", json={"loan_id": case.loan} | body, headers=case.collector.headers)
    return {"status": resp.status_code, **resp.json()}


def _outbox_count(rt: Runtime) -> int:
    with rt.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(OutboxRow)) or 0)


def test_message_goes_through_the_bridge_with_a_verification_code(rt: Runtime, client: TestClient, case: Case) -> None:
    out = _contact(client, case, channel="sms", text="王先生您好，您的借款已逾期35天，请于本周内还款，如有困难可申请分期。")
    assert out["status"] == 201, out
    assert out["masked_to"] == "138****5678"
    assert "13812345678" not in json.dumps(out)
    with rt.sessions() as session:
        (msg,) = read_outbox(session, rt, case.borrower)
        row = session.get(ContactRow, out["id"])
        assert row is not None
        entry = session.scalar(select(LedgerEntryRow).where(LedgerEntryRow.seq == out["ledger_seq"]))
    assert msg.to_e164 == "+8613812345678"
    assert "核验码" in msg.text
    assert hashlib.sha256(msg.text.encode()).hexdigest() == out["text_sha256"] == row.text_sha256
    assert entry is not None
    assert entry.action == "collection.contact"
    assert entry.details["text_sha256"] == out["text_sha256"]


def test_the_code_in_a_message_proves_it_came_from_the_lender(rt: Runtime, client: TestClient, case: Case, make_actor) -> None:  # type: ignore[no-untyped-def]
    _contact(client, case, channel="sms", text="您好，请尽快处理本月还款，谢谢。")
    with rt.sessions() as session:
        (msg,) = read_outbox(session, rt, case.borrower)
    code = msg.text.split("[Verify: ")[1].rstrip("]")
    cs = make_actor("customer_service")
    good = client.post("/v1/collection/verify", json={"code": code.lower().replace("-", " ")}, headers=cs.headers).json()
    assert good["genuine"] is True
    assert good["channel"] == "sms"
    assert good["collector"] == case.collector.principal.name
    fake = client.post("/v1/collection/verify", json={"code": "ZZZZ-ZZZZ"}, headers=cs.headers).json()
    assert fake == {"genuine": False, "channel": None, "at": None, "collector": None}
    assert client.post("/v1/collection/verify", json={"code": "x" * 40}, headers=cs.headers).status_code == 422


@pytest.mark.parametrize(("delta", "allowed"), [(timedelta(0), True), (timedelta(minutes=1), False)])
def test_22_00_in_the_borrowers_zone_is_refused_and_recorded(
    rt: Runtime, client: TestClient, case: Case, clock: FrozenClock, delta: timedelta, allowed: bool
) -> None:
    clock.set(BEIJING_2159 + delta)
    out = _contact(client, case, channel="call")
    if allowed:
        assert out["status"] == 201, out
        assert out["verification_code"]
        return
    assert out["status"] == 403
    assert out["code"] == "contact-blocked"
    assert out["rule_id"] == "cn-hours"
    assert out["next_allowed_at"].startswith("2026-11-24T00:00:00")  # 08:00 in Beijing
    assert _outbox_count(rt) == 0  # nothing was sent
    with rt.sessions() as session:
        row = session.get(ContactRow, out["contact_id"])
        assert row is not None
        assert (row.outcome, row.rule_id) == ("blocked", "cn-hours")
        assert session.scalar(select(LedgerEntryRow.action).where(LedgerEntryRow.seq == row.ledger_seq)) == "collection.contact_blocked"


def test_a_threat_is_screened_and_nothing_is_sent(rt: Runtime, client: TestClient, case: Case) -> None:
    out = _contact(client, case, channel="sms", text="再不还钱，我们就打断你的腿，后果自负！")
    assert out["status"] == 403
    assert out["code"] == "message-screened"
    assert {h["rule_id"] for h in out["hits"]} == {"threat-violence-zh"}
    span = out["hits"][0]
    assert "再不还钱，我们就打断你的腿，后果自负！"[span["start"] : span["end"]] == "打断你的腿"
    assert _outbox_count(rt) == 0


def test_emergency_contact_waits_until_the_debtor_is_unreachable_and_never_hears_of_the_debt(
    rt: Runtime, client: TestClient, case: Case, clock: FrozenClock
) -> None:
    early = _contact(client, case, channel="sms", target_id=case.spouse, text="您好，请转告王先生尽快回电，谢谢。")
    assert early["status"] == 403
    assert early["rule_id"] == "cn-third-party"
    for _ in range(3):  # three unanswered calls to the debtor over three days
        call = _contact(client, case, channel="call")
        assert call["status"] == 201, call
        _report(rt, client, call["id"], "unanswered")
        clock.advance(timedelta(days=1))
    disclosing = _contact(client, case, channel="sms", target_id=case.spouse, text="您好，王先生在我司的借款已逾期，请转告他还款。")
    assert disclosing["status"] == 403
    assert disclosing["code"] == "message-screened"
    assert {h["category"] for h in disclosing["hits"]} == {"disclosure"}
    ok = _contact(client, case, channel="sms", target_id=case.spouse, text="您好，请转告王先生尽快回电，谢谢。")
    assert ok["status"] == 201, ok
    assert ok["masked_to"] == "139****4321"


def test_guarantor_may_be_called_and_a_refusal_stops_it(rt: Runtime, client: TestClient, case: Case) -> None:
    first = _contact(client, case, channel="call", target_id=case.guarantor)
    assert first["status"] == 201, first
    resp = client.post(f"/v1/collection/contacts/{first['id']}/refusal", headers=case.collector.headers)
    assert resp.status_code == 204
    again = _contact(client, case, channel="call", target_id=case.guarantor)
    assert again["status"] == 403
    assert again["rule_id"] == "cn-third-party-refused"


def test_someone_who_is_not_linked_cannot_be_targeted(client: TestClient, case: Case) -> None:
    out = _contact(client, case, channel="call", target_id="00000000-0000-0000-0000-000000000000")
    assert out["status"] == 422


def _report(rt: Runtime, client: TestClient, contact_id: str, outcome: str, *, adapter_headers: dict[str, str] | None = None) -> int:
    body = json.dumps({"contact_id": contact_id, "outcome": outcome, "duration_s": 30 if outcome == "connected" else 0}).encode()
    ts = str(int(rt.clock.now().timestamp()))
    headers = (adapter_headers or _ADAPTER[id(rt)]) | {
        "X-LendShield-Timestamp": ts,
        "X-LendShield-Signature": recordings.callback_signature(rt, ts, body),
        "content-type": "application/json",
    }
    return client.post("/v1/collection/callbacks", content=body, headers=headers).status_code


_ADAPTER: dict[int, dict[str, str]] = {}


@pytest.fixture(autouse=True)
def adapter(rt: Runtime, make_actor) -> None:  # type: ignore[no-untyped-def]
    _ADAPTER[id(rt)] = make_actor("telephony").headers


def test_fourth_connected_call_is_refused_over_http(rt: Runtime, client: TestClient, case: Case) -> None:
    for _ in range(3):
        call = _contact(client, case, channel="call")
        assert call["status"] == 201
        assert _report(rt, client, call["id"], "connected") == 204
    fourth = _contact(client, case, channel="call")
    assert fourth["status"] == 403
    assert fourth["rule_id"] == "cn-connected-calls"


def test_forged_stale_or_unsigned_callbacks_are_refused(rt: Runtime, client: TestClient, case: Case, clock: FrozenClock) -> None:
    call = _contact(client, case, channel="call")
    body = json.dumps({"contact_id": call["id"], "outcome": "connected", "duration_s": 10}).encode()
    ts = str(int(rt.clock.now().timestamp()))
    headers = _ADAPTER[id(rt)] | {"content-type": "application/json", "X-LendShield-Timestamp": ts}
    forged = client.post("/v1/collection/callbacks", content=body, headers=headers | {"X-LendShield-Signature": "0" * 64})
    assert forged.status_code == 403
    assert forged.json()["code"] == "callback-refused"
    good_sig = recordings.callback_signature(rt, ts, body)
    tampered = body.replace(b"10", b"99")
    assert (
        client.post("/v1/collection/callbacks", content=tampered, headers=headers | {"X-LendShield-Signature": good_sig}).status_code == 403
    )
    clock.advance(timedelta(minutes=10))
    stale = client.post("/v1/collection/callbacks", content=body, headers=headers | {"X-LendShield-Signature": good_sig})
    assert stale.status_code == 403
    assert "replay" in stale.json()["detail"]
    with rt.sessions() as session:
        assert session.get(ContactRow, call["id"]).outcome == "pending"  # type: ignore[union-attr]


def test_complaint_pauses_collection_until_a_supervisor_resolves_it(rt: Runtime, client: TestClient, case: Case, make_actor) -> None:  # type: ignore[no-untyped-def]
    cs = make_actor("customer_service")
    supervisor = make_actor("collection_supervisor")
    sent = _contact(client, case, channel="sms", text="您好，请尽快还款。")
    filed = client.post(
        "/v1/collection/complaints",
        json={"loan_id": case.loan, "contact_id": sent["id"], "text": "催收员<script>alert(1)</script>一天打了很多次"},
        headers=cs.headers,
    )
    assert filed.status_code == 201, filed.text
    complaint = filed.json()
    paused = _contact(client, case, channel="call")
    assert paused["status"] == 403
    assert paused["rule_id"] == "pause-complaint"
    assert (
        client.post(f"/v1/collection/complaints/{complaint['id']}/resolve", json={"outcome": "ok"}, headers=cs.headers).status_code == 403
    )
    assert (
        client.post(f"/v1/collection/complaints/{complaint['id']}/resolve", json={"outcome": ""}, headers=supervisor.headers).status_code
        == 422
    )
    done = client.post(
        f"/v1/collection/complaints/{complaint['id']}/resolve",
        json={"outcome": "已核查通话记录，对催收员进行培训。"},
        headers=supervisor.headers,
    )
    assert done.status_code == 200
    assert done.json()["status"] == "resolved"
    assert _contact(client, case, channel="call")["status"] == 201


def test_a_dispute_also_blocks_a_phone_lock(rt: Runtime, client: TestClient, case: Case, make_actor) -> None:  # type: ignore[no-untyped-def]
    from lendshield.devices.service import DeviceRules

    cs = make_actor("customer_service")
    assert (
        client.post(
            "/v1/collection/complaints", json={"loan_id": case.loan, "kind": "dispute", "text": "金额不对"}, headers=cs.headers
        ).status_code
        == 201
    )
    with rt.sessions() as session:
        reasons = [r for check in DeviceRules().blockers for r in check(session, rt, case.loan)]
    assert reasons == ["an open dispute about collection on this loan"]
    assert _contact(client, case, channel="sms", text="您好")["rule_id"] == "pause-dispute"


def test_channel_preference_is_honoured(client: TestClient, case: Case, make_actor) -> None:  # type: ignore[no-untyped-def]
    cs = make_actor("customer_service")
    resp = client.put(f"/v1/collection/preferences/{case.borrower}", json={"channels": ["sms"]}, headers=cs.headers)
    assert resp.status_code == 200
    call = _contact(client, case, channel="call")
    assert call["rule_id"] == "channel-preference"
    assert _contact(client, case, channel="sms", text="您好，请查看本月账单。")["status"] == 201
    collector = client.put(f"/v1/collection/preferences/{case.borrower}", json={"channels": ["call"]}, headers=case.collector.headers)
    assert collector.status_code == 403


def test_field_visit_needs_two_collectors(rt: Runtime, client: TestClient, case: Case, make_actor) -> None:  # type: ignore[no-untyped-def]
    partner = make_actor("collector")
    cs = make_actor("customer_service")
    alone = client.post(
        "/v1/collection/visits", json={"loan_id": case.loan, "participants": [case.collector.principal.id]}, headers=case.collector.headers
    )
    assert alone.status_code == 422
    not_collector = client.post(
        "/v1/collection/visits", json={"loan_id": case.loan, "participants": [cs.principal.id]}, headers=case.collector.headers
    )
    assert not_collector.status_code == 422
    visit = client.post(
        "/v1/collection/visits",
        json={"loan_id": case.loan, "participants": [partner.principal.id], "notes": "上门沟通，借款人同意下周还款"},
        headers=case.collector.headers,
    )
    assert visit.status_code == 201, visit.text
    with rt.sessions() as session:
        row = session.get(ContactRow, visit.json()["id"])
        assert row is not None
        assert sorted(row.participants) == sorted([case.collector.principal.id, partner.principal.id])


@pytest.mark.parametrize(
    "role", ["customer_service", "collection_supervisor", "risk_officer", "device_operator", "admin", "auditor", "loan_system"]
)
def test_only_collectors_start_contacts(client: TestClient, case: Case, make_actor, role: str) -> None:  # type: ignore[no-untyped-def]
    other = make_actor(role)
    resp = client.post("/v1/collection/contacts", json={"loan_id": case.loan, "channel": "call"}, headers=other.headers)
    assert resp.status_code == 403
    assert resp.json()["code"] == "not-collector"


def test_a_collector_not_assigned_is_refused_and_recorded(rt: Runtime, client: TestClient, case: Case, make_actor) -> None:  # type: ignore[no-untyped-def]
    stranger = make_actor("collector")
    resp = client.post("/v1/collection/contacts", json={"loan_id": case.loan, "channel": "call"}, headers=stranger.headers)
    assert resp.status_code == 403
    assert resp.json()["rule_id"] == "not-assigned"
    assert client.get(f"/v1/collection/loans/{case.loan}/targets", headers=stranger.headers).status_code == 403
    assert client.get(f"/v1/collection/contacts?loan_id={case.loan}", headers=stranger.headers).status_code == 403


def test_a_collector_lists_their_loans(client: TestClient, case: Case, make_actor) -> None:  # type: ignore[no-untyped-def]
    mine = client.get("/v1/collection/loans", headers=case.collector.headers)
    assert mine.json() == [{"id": case.loan, "overdue_days": 35}]
    assert client.get("/v1/collection/loans", headers=make_actor("collector").headers).json() == []
    assert client.get("/v1/collection/loans", headers=make_actor("customer_service").headers).status_code == 403


def test_targets_are_masked(client: TestClient, case: Case) -> None:
    resp = client.get(f"/v1/collection/loans/{case.loan}/targets", headers=case.collector.headers)
    assert resp.status_code == 200, resp.text
    got = {t["role"]: t["masked_mobile"] for t in resp.json()}
    assert got == {"debtor": "138****5678", "third_party": "139****4321", "guarantor": "137****1111"}


def test_unauthenticated_and_bad_input(client: TestClient, case: Case) -> None:
    assert client.post("/v1/collection/contacts", json={"loan_id": case.loan, "channel": "call"}).status_code == 401
    assert (
        client.post("/v1/collection/contacts", json={"loan_id": case.loan, "channel": "fax"}, headers=case.collector.headers).status_code
        == 422
    )
    assert (
        client.post("/v1/collection/contacts", json={"loan_id": "nope", "channel": "call"}, headers=case.collector.headers).status_code
        == 404
    )
    sms_empty = client.post(
        "/v1/collection/contacts", json={"loan_id": case.loan, "channel": "sms", "text": " "}, headers=case.collector.headers
    )
    assert sms_empty.status_code == 422


def test_live_screening_endpoint(client: TestClient, case: Case) -> None:
    resp = client.post(
        "/v1/collection/screen",
        json={"text": "We know where your kids go to school.", "audience": "debtor"},
        headers=case.collector.headers,
    )
    assert resp.status_code == 200
    assert resp.json()["allowed"] is False
    assert resp.json()["hits"][0]["category"] == "threat"
    clean = client.post(
        "/v1/collection/screen",
        json={"text": "Your payment of $120 is due on 12/15.", "audience": "debtor"},
        headers=case.collector.headers,
    )
    assert clean.json() == {"allowed": True, "hits": []}


def test_an_open_rights_request_pauses_collection(rt: Runtime, client: TestClient, make_actor) -> None:  # type: ignore[no-untyped-def]
    from lendshield.loans.service import LoanEvent
    from tests.policy import gate_support as gs
    from tests.rights import support as s

    me = s.person(rt)
    collector = make_actor("collector")
    gs.loan(
        rt,
        me.subject_id,
        "L-r",
        ("e1", LoanEvent(kind="overdue", overdue_days=12)),
        ("e2", LoanEvent(kind="assign", collector_id=collector.principal.id)),
    )
    s.file(client, me.headers, "deletion", params={"ground": "consent_withdrawn"})
    resp = client.post("/v1/collection/contacts", json={"loan_id": "L-r", "channel": "call"}, headers=collector.headers)
    assert resp.status_code == 403
    assert resp.json()["rule_id"] == "pause-rights-request"
