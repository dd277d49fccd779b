"""Identity verification by one-time code (PIPL Art. 50): forged, replayed, expired, replaced and
exhausted codes are refused, and every refusal stays in the ledger."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from lendshield.clock import FrozenClock
from lendshield.rights.models import VerificationCodeRow
from lendshield.runtime import Runtime
from tests.policy import gate_support as gs
from tests.rights import support as s


def _staff_request(client: TestClient, rt: Runtime, make_actor: Any) -> tuple[Any, dict[str, Any]]:
    sid = gs.borrower(rt)
    clerk = make_actor("customer_service")
    return clerk, s.file(client, clerk.headers, "access", subject_id=sid)


def _confirm(client: TestClient, headers: dict[str, str], req: dict[str, Any], code: str) -> Any:
    return client.post(f"/v1/rights/requests/{req['id']}/verification/confirm", json={"code": code}, headers=headers)


def _send(client: TestClient, headers: dict[str, str], req: dict[str, Any]) -> None:
    assert client.post(f"/v1/rights/requests/{req['id']}/verification", headers=headers).status_code == 202


def _denials(rt: Runtime) -> list[str]:
    return [e.body for e in s.entries(rt, "rights.verify") if '"deny"' in e.body]


def test_only_a_keyed_digest_of_the_code_is_stored_and_the_text_is_not_logged(rt: Runtime, client: TestClient, make_actor: Any) -> None:
    clerk, req = _staff_request(client, rt, make_actor)
    _send(client, clerk.headers, req)
    code = s.last_code(rt, req["subject_id"])
    with rt.sessions() as session:
        row = session.scalars(select(VerificationCodeRow)).one()
    assert code.encode() not in row.digest
    assert len(row.digest) == 32
    delivered = s.entries(rt, "contact.deliver_message")[-1]
    assert delivered.details is not None
    assert "text_sha256" not in delivered.details  # a 6-digit code's digest could be reversed
    assert code not in delivered.body


def test_forged_codes_are_refused_counted_logged_and_exhaust_the_code(
    rt: Runtime, client: TestClient, make_actor: Any, clock: FrozenClock
) -> None:
    clerk, req = _staff_request(client, rt, make_actor)
    _send(client, clerk.headers, req)
    code = s.last_code(rt, req["subject_id"])
    forged = "000000" if code != "000000" else "111111"
    body = s.problem(_confirm(client, clerk.headers, req, forged), 403, "verification-failed")
    assert "4 attempts left" in body["detail"]
    s.problem(_confirm(client, clerk.headers, req, "abc"), 403, "verification-failed")
    assert client.get(f"/v1/rights/requests/{req['id']}", headers=clerk.headers).json()["status"] == "unverified"
    for _ in range(3):
        s.problem(_confirm(client, clerk.headers, req, forged), 403, "verification-failed")
    # Five wrong: even the right code no longer works; a new one must be sent.
    s.problem(_confirm(client, clerk.headers, req, code), 403, "verification-failed")
    assert len(_denials(rt)) == 6
    assert '"code-wrong"' in _denials(rt)[0]
    clock.advance(timedelta(seconds=30))  # the outbox orders messages by time
    _send(client, clerk.headers, req)
    assert _confirm(client, clerk.headers, req, s.last_code(rt, req["subject_id"])).json()["status"] == "open"


def test_replayed_expired_and_replaced_codes_are_refused(rt: Runtime, client: TestClient, make_actor: Any, clock: FrozenClock) -> None:
    clerk, req = _staff_request(client, rt, make_actor)
    _send(client, clerk.headers, req)
    first = s.last_code(rt, req["subject_id"])
    clock.advance(timedelta(minutes=10, seconds=1))
    s.problem(_confirm(client, clerk.headers, req, first), 403, "verification-failed")
    _send(client, clerk.headers, req)
    second = s.last_code(rt, req["subject_id"])
    if second != first:  # one chance in a million that the new code repeats the old one
        s.problem(_confirm(client, clerk.headers, req, first), 403, "verification-failed")
        assert '"code-expired-or-used"' in _denials(rt)[-1]
    assert _confirm(client, clerk.headers, req, second).status_code == 200
    s.problem(_confirm(client, clerk.headers, req, second), 403, "verification-failed")
    assert '"code-replayed"' in _denials(rt)[-1]


def test_who_may_send_and_check_codes(rt: Runtime, client: TestClient, make_actor: Any) -> None:
    _clerk, req = _staff_request(client, rt, make_actor)
    stranger = s.person(rt, mobile="13987654321")
    collector = make_actor("collector")
    s.problem(client.post(f"/v1/rights/requests/{req['id']}/verification", headers=collector.headers), 403, "rights-forbidden")
    s.problem(client.post(f"/v1/rights/requests/{req['id']}/verification", headers=stranger.headers), 403, "not-your-data")
    s.problem(_confirm(client, stranger.headers, req, "123456"), 403, "not-your-data")
    own = s.file(client, stranger.headers, "access")
    # A request filed from the portal session is verified already: no code to send.
    s.problem(client.post(f"/v1/rights/requests/{own['id']}/verification", headers=stranger.headers), 409)
