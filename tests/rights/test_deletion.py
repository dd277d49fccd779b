"""Deletion over HTTP on each ground of PIPL Art. 47 (and 网络数据安全管理条例 Art. 24), refused
where the ground does not hold, and postponed by a legal hold (Art. 47, second paragraph)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from lendshield.clock import FrozenClock
from lendshield.loans.service import LoanEvent
from lendshield.rights import holds
from lendshield.rights.models import TombstoneRow
from lendshield.rights.service import open_request_blockers
from lendshield.runtime import Runtime
from lendshield.subjects import service as subjects
from lendshield.subjects.errors import SubjectShredded
from tests.policy import gate_support as gs
from tests.rights import support as s

JUDGED = "the officer confirmed the ground after review of the file"


def _paid_off(rt: Runtime, sid: str) -> None:
    gs.loan(rt, sid, f"L-{sid[:8]}", (f"payoff-{sid}", LoanEvent(kind="payoff")))


def _open_loan(rt: Runtime, sid: str) -> None:
    gs.loan(rt, sid, f"L-{sid[:8]}")


def _withdrawn(rt: Runtime, sid: str) -> None:
    gs.give(rt, sid, "marketing")
    gs.give(rt, sid, "marketing", action="withdraw")


def _granted(rt: Runtime, sid: str) -> None:
    gs.give(rt, sid, "marketing")


def _nothing(rt: Runtime, sid: str) -> None:
    del rt, sid


# ground -> (what makes it hold, what makes it fail or None when only the officer can judge)
GROUNDS: dict[str, tuple[Any, Any]] = {
    "purpose_achieved": (_paid_off, _open_loan),
    "service_ended": (_paid_off, _open_loan),
    "consent_withdrawn": (_withdrawn, _granted),
    "retention_expired": (_nothing, _nothing),
    "purpose_impossible": (_nothing, None),
    "purpose_unneeded": (_nothing, None),
    "unlawful_processing": (_nothing, None),
    "other_law": (_nothing, None),
    "account_cancelled": (_nothing, None),
}


def _shredded(rt: Runtime, sid: str) -> bool:
    with rt.sessions() as session:
        try:
            subjects.require_live(session, sid)
        except SubjectShredded:
            return True
    return False


def _verified_staff_request(client: TestClient, rt: Runtime, clerk: Any, sid: str, ground: str) -> dict[str, Any]:
    req = s.file(client, clerk.headers, "deletion", subject_id=sid, params={"ground": ground})
    assert client.post(f"/v1/rights/requests/{req['id']}/verification", headers=clerk.headers).status_code == 202
    code = s.last_code(rt, sid)
    assert (
        client.post(f"/v1/rights/requests/{req['id']}/verification/confirm", json={"code": code}, headers=clerk.headers).status_code == 200
    )
    return req


def _delete_on(client: TestClient, rt: Runtime, officer: Any, clerk: Any, sid: str, ground: str) -> None:
    req = _verified_staff_request(client, rt, clerk, sid, ground)
    done = client.post(f"/v1/rights/requests/{req['id']}/fulfil", json={"outcome": JUDGED}, headers=officer.headers)
    assert done.status_code == 200, (ground, done.text)
    assert done.json()["status"] == "fulfilled", ground
    assert "crypto-shredded" in done.json()["outcome"]
    assert _shredded(rt, sid), ground
    with rt.sessions() as session:
        tomb = session.get(TombstoneRow, sid)
    assert tomb is not None, ground
    assert tomb.ground == ground
    assert tomb.request_id == req["id"]
    assert s.entries(rt, "subject.shred")[-1].seq < tomb.ledger_seq
    # The request and its answer remain for the record, without personal data.
    assert client.get(f"/v1/rights/requests/{req['id']}", headers=officer.headers).json()["status"] == "fulfilled"


def test_each_ground_deletes_with_a_tombstone(rt: Runtime, client: TestClient, make_actor: Any) -> None:
    # One database for all grounds (one borrower each): the suite runs on two backends.
    officer, clerk = make_actor("protection_officer"), make_actor("customer_service")
    for i, ground in enumerate(g for g in sorted(GROUNDS) if g != "retention_expired"):
        sid = gs.borrower(rt, mobile=f"139{i:08d}")
        GROUNDS[ground][0](rt, sid)
        _delete_on(client, rt, officer, clerk, sid, ground)


def test_retention_expired_is_a_ground_once_no_purpose_needs_the_data(
    rt: Runtime, client: TestClient, make_actor: Any, clock: FrozenClock
) -> None:
    officer, clerk = make_actor("protection_officer"), make_actor("customer_service")
    sid = gs.borrower(rt)
    clock.advance(timedelta(days=1826))  # past every purpose's retention_days (purposes.yaml)
    _delete_on(client, rt, officer, clerk, sid, "retention_expired")


def test_a_ground_that_does_not_hold_is_not_acted_on(rt: Runtime, client: TestClient, make_actor: Any) -> None:
    officer = make_actor("protection_officer")
    checked = [g for g, (_ok, bad) in sorted(GROUNDS.items()) if bad is not None]
    assert checked == ["consent_withdrawn", "purpose_achieved", "retention_expired", "service_ended"]
    for i, ground in enumerate(checked):
        me = s.person(rt, mobile=f"139{i:08d}")
        GROUNDS[ground][1](rt, me.subject_id)
        req = s.file(client, me.headers, "deletion", params={"ground": ground})
        response = client.post(f"/v1/rights/requests/{req['id']}/fulfil", json={}, headers=officer.headers)
        body = s.problem(response, 409, "deletion-blocked")
        assert "the deletion ground is not met" in body["detail"], ground
        assert not _shredded(rt, me.subject_id), ground


def test_judged_grounds_need_the_officers_finding_and_an_active_account_blocks_cancellation(
    rt: Runtime, client: TestClient, make_actor: Any
) -> None:
    officer = make_actor("protection_officer")
    me = s.person(rt)
    unlawful = s.file(client, me.headers, "deletion", params={"ground": "unlawful_processing"})
    s.problem(client.post(f"/v1/rights/requests/{unlawful['id']}/fulfil", json={}, headers=officer.headers), 409, "deletion-blocked")
    cancelled = s.file(client, me.headers, "deletion", params={"ground": "account_cancelled"})
    body = s.problem(client.post(f"/v1/rights/requests/{cancelled['id']}/fulfil", json={}, headers=officer.headers), 409)
    assert "account is still active" in body["detail"]
    assert not _shredded(rt, me.subject_id)


def test_deletion_takes_emergency_contacts_no_other_borrower_names(rt: Runtime, client: TestClient, make_actor: Any) -> None:
    officer = make_actor("protection_officer")
    with rt.sessions() as session:
        sid, (contact,) = subjects.create_subject(
            session,
            rt,
            gs.LOADER,
            kind="borrower",
            fields={"name": "赵六", "mobile": "13812345678"},
            contacts=[subjects.NewContact("朋友", {"name": "钱七"})],
        )
        session.commit()
    req = _verified_staff_request(client, rt, make_actor("customer_service"), sid, "other_law")
    assert client.post(f"/v1/rights/requests/{req['id']}/fulfil", json={"outcome": JUDGED}, headers=officer.headers).status_code == 200
    assert _shredded(rt, sid)
    assert _shredded(rt, contact)


def test_a_legal_hold_postpones_deletion_and_restricts_until_it_ends(
    rt: Runtime, client: TestClient, make_actor: Any, clock: FrozenClock
) -> None:
    officer, collector = make_actor("protection_officer"), make_actor("collector")
    me = s.person(rt)
    _paid_off(rt, me.subject_id)
    hold = {"subject_id": me.subject_id, "kind": "legal_hold", "reason": "loan records kept after payoff as the lending rules require"}
    s.problem(client.post("/v1/rights/holds", json=hold, headers=officer.headers), 422)  # a legal hold needs its end date
    s.problem(client.post("/v1/rights/holds", json=hold | {"ends_on": "2027-03-01"}, headers=collector.headers), 403)
    placed = client.post("/v1/rights/holds", json=hold | {"ends_on": "2027-03-01"}, headers=officer.headers)
    assert placed.status_code == 201, placed.text

    req = s.file(client, me.headers, "deletion", params={"ground": "service_ended"})
    done = client.post(f"/v1/rights/requests/{req['id']}/fulfil", json={}, headers=officer.headers).json()
    assert done["status"] == "held"
    assert done["outcome"].startswith("deletion postponed until 2027-03-01")
    seen = client.get(f"/v1/rights/requests/{req['id']}", headers=me.headers).json()
    assert "storage only" in seen["outcome"]
    assert not _shredded(rt, me.subject_id)
    with rt.sessions() as session:
        assert holds.restriction_for(session, rt, me.subject_id, "loan_servicing") == (
            "restricted to storage only by a legal hold until 2027-03-01 (PIPL Arts. 44, 47)"
        )
        assert open_request_blockers(session, me.subject_id, today=rt.clock.now().date()) == [
            "the data is restricted to storage only by a legal hold until 2027-03-01"
        ]

    plan = client.post("/v1/rights/retention/sweep", headers=officer.headers).json()
    assert [a["kind"] for a in plan["actions"] if a["target"] == req["id"]] == []
    clock.set(datetime(2027, 3, 2, 2, 0, tzinfo=UTC))
    plan = client.post("/v1/rights/retention/sweep", params={"dry_run": True}, headers=officer.headers).json()
    assert {"kind": "finish_held_deletion", "target": req["id"], "reason": "the legal hold that postponed this deletion has ended"} in plan[
        "actions"
    ]
    assert not _shredded(rt, me.subject_id)  # a dry run changes nothing
    ran = client.post("/v1/rights/retention/sweep", params={"dry_run": False}, headers=officer.headers)
    assert ran.status_code == 200, ran.text
    assert _shredded(rt, me.subject_id)
    final = client.get(f"/v1/rights/requests/{req['id']}", headers=officer.headers).json()
    assert final["status"] == "fulfilled"
    with rt.sessions() as session:
        assert session.scalars(select(TombstoneRow.ground)).all() == ["service_ended"]
