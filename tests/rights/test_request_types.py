"""Each request type end to end over HTTP (PIPL Arts. 44-50, Art. 24), with the roles refused."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from lendshield.consent import service as consent
from lendshield.rights import holds
from lendshield.rights.service import open_request_blockers
from lendshield.runtime import Runtime
from lendshield.subjects import service as subjects
from tests.policy import gate_support as gs
from tests.rights import support as s


def _verify_by_code(client: TestClient, rt: Runtime, headers: dict[str, str], req: dict[str, Any]) -> dict[str, Any]:
    sent = client.post(f"/v1/rights/requests/{req['id']}/verification", headers=headers)
    assert sent.status_code == 202, sent.text
    assert sent.json()["sent_to"] == "138****5678"
    done = client.post(
        f"/v1/rights/requests/{req['id']}/verification/confirm", json={"code": s.last_code(rt, req["subject_id"])}, headers=headers
    )
    assert done.status_code == 200, done.text
    out: dict[str, Any] = done.json()
    return out


def test_correction_filed_by_staff_verified_by_code_approved_by_the_officer(rt: Runtime, client: TestClient, make_actor: Any) -> None:
    sid = gs.borrower(rt)
    clerk, officer = make_actor("customer_service"), make_actor("protection_officer")
    body = {
        "subject_id": sid,
        "params": {"field": "address"},
        "new_value": "上海市浦东新区世纪大道100号",
        "text": "moved house; lease attached",
    }
    req = s.file(client, clerk.headers, "correction", **body)
    assert req["status"] == "unverified"
    assert req["channel"] == "staff"
    # Not before identity is verified (PIPL Art. 50).
    s.problem(client.post(f"/v1/rights/requests/{req['id']}/fulfil", json={}, headers=officer.headers), 409)
    assert _verify_by_code(client, rt, clerk.headers, req)["status"] == "open"
    assert client.get(f"/v1/rights/requests/{req['id']}/text", headers=officer.headers).json()["new_value"].startswith("上海市")
    s.problem(client.get(f"/v1/rights/requests/{req['id']}/text", headers=clerk.headers), 403, "rights-forbidden")
    # Staff approval: the clerk cannot, the officer can.
    s.problem(client.post(f"/v1/rights/requests/{req['id']}/fulfil", json={}, headers=clerk.headers), 403, "rights-forbidden")
    done = client.post(f"/v1/rights/requests/{req['id']}/fulfil", json={}, headers=officer.headers).json()
    assert done["status"] == "fulfilled"
    assert "previous value is kept encrypted" in done["outcome"]
    with rt.sessions() as session:
        view = subjects.read_fields(session, rt, gs.OFFICER, sid, ["address"], purpose="rights_request", reason="check", clear=True)
    assert view.fields["address"].value.startswith("上海市浦东新区")
    assert view.fields["address"].version == 2
    assert [e.action for e in s.entries(rt, "subject.correct")] == ["subject.correct"]


def test_a_correction_with_an_invalid_value_changes_nothing(rt: Runtime, client: TestClient) -> None:
    me = s.person(rt)
    bad = client.post(
        "/v1/rights/requests",
        json={"type": "correction", "params": {"field": "mobile"}, "new_value": "12", "text": "new phone"},
        headers=me.headers,
    )
    s.problem(bad, 422)
    assert "12" not in bad.json()["detail"].split(":")[-1]
    assert client.get("/v1/rights/requests", headers=me.headers).json() == []


def test_withdrawal_of_consent_from_the_portal_takes_effect_at_once(rt: Runtime, client: TestClient) -> None:
    me = s.person(rt)
    gs.give(rt, me.subject_id, "marketing")
    # Art. 13: processing on a contract or legal duty cannot be "withdrawn".
    refused = client.post(
        "/v1/rights/requests", json={"type": "withdrawal", "params": {"purposes": ["loan_servicing"]}}, headers=me.headers
    )
    s.problem(refused, 422)
    # Art. 15: as easy as consenting, effective at once.
    done = s.file(client, me.headers, "withdrawal", params={"purposes": ["marketing", "testimonials"]})
    assert done["status"] == "fulfilled"
    assert "consent withdrawn for marketing" in done["outcome"]
    assert "no consent was on record for testimonials" in done["outcome"]
    with rt.sessions() as session:
        states = {c.purpose: (c.action, c.channel) for c in consent.states(session, rt, gs.OFFICER, me.subject_id)}
    assert states["marketing"] == ("withdraw", "web")


def test_withdrawal_filed_by_staff_waits_for_the_code_and_the_officer(rt: Runtime, client: TestClient, make_actor: Any) -> None:
    sid = gs.borrower(rt)
    gs.give(rt, sid, "marketing")
    clerk, officer = make_actor("customer_service"), make_actor("protection_officer")
    req = s.file(client, clerk.headers, "withdrawal", subject_id=sid, params={"purposes": ["marketing"]})
    assert req["status"] == "unverified"
    _verify_by_code(client, rt, clerk.headers, req)
    done = client.post(f"/v1/rights/requests/{req['id']}/fulfil", json={}, headers=officer.headers).json()
    assert done["status"] == "fulfilled"
    with rt.sessions() as session:
        states = {c.purpose: (c.action, c.channel) for c in consent.states(session, rt, gs.OFFICER, sid)}
    assert states["marketing"] == ("withdraw", "staff")


def test_restriction_limits_the_data_to_storage_and_blocks_collection(rt: Runtime, client: TestClient, make_actor: Any) -> None:
    me = s.person(rt)
    officer = make_actor("protection_officer")
    req = s.file(client, me.headers, "restriction", params={"ends_on": "2027-06-30"}, text="I dispute the debt")
    with rt.sessions() as session:
        assert open_request_blockers(session, me.subject_id, today=rt.clock.now().date()) == [
            f"a restriction request is open (due {req['due_on']})"
        ]
    done = client.post(f"/v1/rights/requests/{req['id']}/fulfil", json={}, headers=officer.headers).json()
    assert done["outcome"] == "processing of your data is restricted to storage only until 2027-06-30"
    with rt.sessions() as session:
        assert holds.restriction_for(session, rt, me.subject_id, "collection") is not None
        assert holds.restriction_for(session, rt, me.subject_id, "rights_request") is None
        blockers = open_request_blockers(session, me.subject_id, today=rt.clock.now().date())
    assert blockers == ["the data is restricted to storage only by a restriction the person asked for until 2027-06-30"]
    (hold,) = client.get("/v1/rights/holds", params={"subject_id": me.subject_id}, headers=officer.headers).json()
    assert hold["kind"] == "restriction"
    s.problem(client.get("/v1/rights/holds", params={"subject_id": me.subject_id}, headers=me.headers), 403)
    s.problem(client.post(f"/v1/rights/holds/{hold['id']}/lift", json={"reason": "short"}, headers=officer.headers), 422)
    lifted = client.post(
        f"/v1/rights/holds/{hold['id']}/lift", json={"reason": "the person lifted the restriction by phone"}, headers=officer.headers
    )
    assert lifted.json()["lifted"] is True
    with rt.sessions() as session:
        assert holds.restriction_for(session, rt, me.subject_id, "collection") is None
        assert open_request_blockers(session, me.subject_id, today=rt.clock.now().date()) == []


def test_explanation_of_an_automated_decision_and_human_review(rt: Runtime, client: TestClient, make_actor: Any) -> None:
    me = s.person(rt)
    loader, officer, collector = make_actor("loan_system"), make_actor("protection_officer"), make_actor("collector")
    decision = {
        "subject_id": me.subject_id,
        "system": "scorecard-v3",
        "decision_type": "credit_limit",
        "outcome": "limit lowered to 2000 CNY",
        "input_categories": ["financial", "employment"],
        "logic_summary": "points for income band and employment length; below 600 points lowers the limit",
    }
    s.problem(client.post("/v1/rights/decisions", json=decision, headers=collector.headers), 403, "rights-forbidden")
    s.problem(client.post("/v1/rights/decisions", json=decision | {"input_categories": ["nope"]}, headers=loader.headers), 422)
    made = client.post("/v1/rights/decisions", json=decision, headers=loader.headers)
    assert made.status_code == 201, made.text
    decision_id = made.json()["id"]
    mine = client.get("/v1/rights/decisions", headers=me.headers).json()
    assert [d["id"] for d in mine] == [decision_id]
    explained = client.get(f"/v1/rights/decisions/{decision_id}", headers=me.headers).json()
    assert explained["logic_summary"].startswith("points for income band")
    assert explained["input_categories"] == ["employment", "financial"]
    req = s.file(client, me.headers, "explanation", params={"decision_id": decision_id, "human_review": True})
    s.problem(client.post(f"/v1/rights/requests/{req['id']}/fulfil", json={}, headers=officer.headers), 400, "reason-required")
    outcome = "reviewed by a credit officer: the limit is restored to 5000 CNY"
    assert client.post(f"/v1/rights/requests/{req['id']}/fulfil", json={"outcome": outcome}, headers=officer.headers).status_code == 200
    assert client.get(f"/v1/rights/decisions/{decision_id}", headers=me.headers).json()["review_outcome"] == outcome


def test_report_of_a_suspected_leak_goes_to_the_officer_with_a_shorter_deadline(rt: Runtime, client: TestClient, make_actor: Any) -> None:
    me = s.person(rt)
    officer, auditor = make_actor("protection_officer"), make_actor("auditor")
    req = s.file(client, me.headers, "report", params={"category": "suspected_leak"}, text="a stranger called me and knew my loan amount")
    # Filed Mon 23 Nov 2026: 10 working days (rights.yaml) -> Mon 7 Dec.
    assert req["due_on"] == "2026-12-07"
    (alert,) = client.get("/v1/rights/alerts", headers=officer.headers).json()
    assert (alert["kind"], alert["request_id"]) == ("new_report", req["id"])
    assert alert["message"] == "new report (suspected_leak) to answer by 2026-12-07"
    queue = client.get("/v1/rights/requests", headers=officer.headers).json()
    assert [q["id"] for q in queue] == [req["id"]]
    assert client.get("/v1/rights/requests", headers=auditor.headers).status_code == 200
    assert "stranger" in client.get(f"/v1/rights/requests/{req['id']}/text", headers=officer.headers).json()["text"]
    assert "stranger" in client.get(f"/v1/rights/requests/{req['id']}/text", headers=me.headers).json()["text"]
    s.problem(client.get(f"/v1/rights/requests/{req['id']}/text", headers=auditor.headers), 403)
    s.problem(client.post(f"/v1/rights/requests/{req['id']}/fulfil", json={"outcome": "ok"}, headers=auditor.headers), 403)
    answer = "we traced the call to an outsourced collector; their access is revoked and we reported it"
    done = client.post(f"/v1/rights/requests/{req['id']}/fulfil", json={"outcome": answer}, headers=officer.headers).json()
    assert done["outcome"] == answer
    # No personal text in the ledger: only the category.
    filed = s.entries(rt, "rights.file")[-1]
    assert "stranger" not in filed.body
    assert "stranger" not in str(filed.details)


def test_refusal_needs_a_written_reason_that_the_person_sees(rt: Runtime, client: TestClient, make_actor: Any) -> None:
    me = s.person(rt)
    officer = make_actor("protection_officer")
    req = s.file(client, me.headers, "access")
    s.problem(client.post(f"/v1/rights/requests/{req['id']}/refuse", json={"reason": "no"}, headers=officer.headers), 422)
    reason = "a copy was sent five days ago; the request repeats it (网数条例 Art. 25)"
    assert client.post(f"/v1/rights/requests/{req['id']}/refuse", json={"reason": reason}, headers=officer.headers).status_code == 200
    seen = client.get(f"/v1/rights/requests/{req['id']}", headers=me.headers).json()
    assert seen["status"] == "refused"
    assert seen["refusal_reason"] == reason
    s.problem(client.post(f"/v1/rights/requests/{req['id']}/refuse", json={"reason": reason}, headers=officer.headers), 409)


def test_someone_elses_data_is_refused_and_logged(rt: Runtime, client: TestClient) -> None:
    me = s.person(rt)
    other = s.person(rt, mobile="13987654321")
    theirs = s.file(client, other.headers, "access")
    s.problem(
        client.post("/v1/rights/requests", json={"type": "access", "subject_id": other.subject_id}, headers=me.headers),
        403,
        "not-your-data",
    )
    s.problem(client.get(f"/v1/rights/requests/{theirs['id']}", headers=me.headers), 403, "not-your-data")
    s.problem(client.get("/v1/rights/requests", params={"subject_id": other.subject_id}, headers=me.headers), 403, "not-your-data")
    refused = [e for e in s.entries(rt, "rights.file") + s.entries(rt, "rights.read") + s.entries(rt, "rights.list") if '"deny"' in e.body]
    assert len(refused) == 3
    assert all('"not-own-data"' in e.body and e.actor == me.account_id for e in refused)
    assert [r["id"] for r in client.get("/v1/rights/requests", headers=me.headers).json()] == []


def test_a_portal_call_without_its_csrf_token_and_roles_that_may_not_file(rt: Runtime, client: TestClient, make_actor: Any) -> None:
    me = s.person(rt)
    no_csrf = {"Cookie": me.headers["Cookie"]}
    s.problem(client.post("/v1/rights/requests", json={"type": "access"}, headers=no_csrf), 403)
    s.problem(client.post("/v1/rights/requests", json={"type": "access"}), 401)
    for role in ("collector", "auditor", "device_operator"):
        actor = make_actor(role)
        s.problem(client.post("/v1/rights/requests", json={"type": "access", "subject_id": me.subject_id}, headers=actor.headers), 403)
    s.problem(client.post("/v1/rights/requests", json={"type": "access", "extra": 1}, headers=me.headers), 422)
    s.problem(client.post("/v1/rights/requests", json={"type": "deletion", "params": {"ground": "because"}}, headers=me.headers), 422)
    assert client.get("/v1/rights/requests", headers=me.headers).json() == []


def test_filing_twice_with_one_idempotency_key_makes_one_request(rt: Runtime, client: TestClient) -> None:
    me = s.person(rt)
    headers = me.headers | {"Idempotency-Key": "portal-form-7f3a"}
    first = client.post("/v1/rights/requests", json={"type": "report", "text": "a call at night"}, headers=headers)
    again = client.post("/v1/rights/requests", json={"type": "report", "text": "a call at night"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    other = client.post("/v1/rights/requests", json={"type": "report", "text": "something else"}, headers=headers)
    s.problem(other, 409, "rights-request-state")
    assert len(client.get("/v1/rights/requests", headers=me.headers).json()) == 1
    assert len(s.entries(rt, "rights.file")) == 1
