"""The borrower portal over HTTP: sign-in, pages, and every kind of bad input for the borrower role.

Wrong passwords and codes, stale and forged sessions, forged CSRF tokens, one borrower's ids in
another's requests (IDOR), and HTML/script in text fields: refused or escaped, and logged.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from structlog.testing import capture_logs

from lendshield.accounts import service as accounts
from lendshield.clock import FrozenClock
from lendshield.consent import service as consent
from lendshield.ledger import tree
from lendshield.ledger.verify import verify_bundle
from lendshield.principals import Principal
from lendshield.runtime import Runtime
from lendshield.web.app import create_app
from lendshield.web.portal import SESSION_COOKIE
from tests.web.portal_helpers import PASSWORD, csrf_of, make_borrower, outbox_codes, sign_in


@pytest.fixture
def web(rt: Runtime) -> Iterator[TestClient]:
    # https: the portal's cookies are Secure, and a client must not send them over plain HTTP.
    with TestClient(create_app(runtime=rt), base_url="https://testserver", raise_server_exceptions=False) as c:
        yield c


def _integrate(rt: Runtime) -> None:
    with rt.sessions() as session:
        tree.integrate(session, rt)
        session.commit()


def _marketing(rt: Runtime, sid: str) -> str:
    officer = Principal(id="t", name="t", kind="staff", roles=frozenset({"protection_officer"}))
    with rt.sessions() as session:
        return next(s.action for s in consent.states(session, rt, officer, sid) if s.purpose == "marketing")


def test_borrower_signs_in_and_sees_own_data_masked(rt: Runtime, make_actor, web: TestClient) -> None:  # type: ignore[no-untyped-def]
    person = make_borrower(rt, make_actor)
    sign_in(web, rt, person)
    page = web.get("/portal/data")
    assert page.status_code == 200
    assert "139****5678" in page.text
    assert "13912345678" not in page.text
    assert "王*" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    assert "<b>" not in page.text  # the employer's markup is masked and escaped, never rendered
    assert '<html lang="zh-CN">' in page.text  # Simplified Chinese by default
    assert "我的数据" in page.text
    assert "My data" in web.get("/portal/data?lang=en").text
    for path in ("/portal/consents", "/portal/timeline", "/portal/report", "/portal/check", "/portal/requests"):
        assert web.get(path).status_code == 200, path


def test_session_cookies_are_secure_httponly_strict(rt: Runtime, make_actor, web: TestClient) -> None:  # type: ignore[no-untyped-def]
    person = make_borrower(rt, make_actor)
    page = web.get("/portal/login")
    before = outbox_codes(rt, person.subject_id)
    resp = web.post("/portal/login", data={"phone": person.phone, "password": PASSWORD, "csrf": csrf_of(page.text)}, follow_redirects=False)
    from tests.web.portal_helpers import new_code

    code = new_code(rt, person.subject_id, before)
    resp = web.post("/portal/login/code", data={"code": code, "csrf": csrf_of(web.get("/portal/login/code").text)}, follow_redirects=False)
    cookies = resp.headers.get_list("set-cookie")
    session_cookie = next(c for c in cookies if c.startswith(f"{SESSION_COOKIE}="))
    for flag in ("Secure", "HttpOnly", "SameSite=strict", "Path=/portal"):
        assert flag.lower() in session_cookie.lower()


def test_wrong_password_and_wrong_code_are_refused_alike(rt: Runtime, make_actor, web: TestClient) -> None:  # type: ignore[no-untyped-def]
    person = make_borrower(rt, make_actor)
    csrf = csrf_of(web.get("/portal/login?lang=en").text)
    wrong = web.post("/portal/login?lang=en", data={"phone": person.phone, "password": "Wrong-Stone-71?", "csrf": csrf})
    unknown = web.post("/portal/login?lang=en", data={"phone": "13800138000", "password": PASSWORD, "csrf": csrf})
    assert wrong.status_code == unknown.status_code == 401
    assert "not correct" in wrong.text
    assert SESSION_COOKIE not in wrong.cookies
    resp = web.post("/portal/login", data={"phone": person.phone, "password": PASSWORD, "csrf": csrf}, follow_redirects=False)
    assert resp.status_code == 303
    bad = web.post("/portal/login/code?lang=en", data={"code": "000000", "csrf": csrf}, follow_redirects=False)
    assert bad.status_code == 401
    assert "not correct or has expired" in bad.text
    assert web.get("/portal/data", follow_redirects=False).status_code == 303


def test_forged_stale_and_signed_out_sessions_are_refused(rt: Runtime, clock: FrozenClock, make_actor, web: TestClient) -> None:  # type: ignore[no-untyped-def]
    person = make_borrower(rt, make_actor)
    web.cookies.set(SESSION_COOKIE, "forged-session-token", domain="testserver", path="/portal")
    assert web.get("/portal/data", follow_redirects=False).headers["location"] == "/portal/login"
    web.cookies.clear()
    csrf = sign_in(web, rt, person)
    token = web.cookies.get(SESSION_COOKIE)
    clock.advance(accounts.BORROWER_IDLE + timedelta(minutes=1))  # idle too long: stale
    assert web.get("/portal/data", follow_redirects=False).status_code == 303
    clock.advance(timedelta(minutes=1))
    csrf = sign_in(web, rt, person)
    token = web.cookies.get(SESSION_COOKIE)
    assert web.post("/portal/logout", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    web.cookies.set(SESSION_COOKIE, token or "", domain="testserver", path="/portal")  # replay the old cookie
    assert web.get("/portal/consents", follow_redirects=False).status_code == 303


def test_forged_or_missing_csrf_changes_nothing(rt: Runtime, make_actor, web: TestClient) -> None:  # type: ignore[no-untyped-def]
    person = make_borrower(rt, make_actor)
    sign_in(web, rt, person)
    with capture_logs() as logs:
        for token in ("", "forged"):
            resp = web.post("/portal/consents/withdraw", data={"purpose": "marketing", "kind": "purpose", "csrf": token})
            assert resp.status_code == 403
    assert _marketing(rt, person.subject_id) == "grant"
    assert any(entry["event"] == "portal_csrf_refused" for entry in logs)
    # A token from an earlier session (stale) is refused too: tokens are bound to their session.
    old = csrf_of(web.get("/portal/consents").text)
    web.post("/portal/logout", data={"csrf": old})
    sign_in(web, rt, person)
    assert web.post("/portal/consents/withdraw", data={"purpose": "marketing", "kind": "purpose", "csrf": old}).status_code == 403
    assert _marketing(rt, person.subject_id) == "grant"
    web.cookies.clear()
    # Before sign-in, the double-submit token guards the forms too (login CSRF).
    assert web.post("/portal/login", data={"phone": person.phone, "password": PASSWORD, "csrf": "x"}).status_code == 403


def test_one_click_withdrawal(rt: Runtime, make_actor, web: TestClient) -> None:  # type: ignore[no-untyped-def]
    person = make_borrower(rt, make_actor)
    csrf = sign_in(web, rt, person)
    page = web.get("/portal/consents?lang=en")
    assert "Withdraw" in page.text
    resp = web.post("/portal/consents/withdraw", data={"purpose": "marketing", "kind": "purpose", "csrf": csrf}, follow_redirects=False)
    assert resp.status_code == 303
    assert _marketing(rt, person.subject_id) == "withdraw"
    again = web.post("/portal/consents/withdraw", data={"purpose": "marketing", "kind": "purpose", "csrf": csrf})
    assert again.status_code == 409


def test_idor_another_borrowers_request_is_refused_and_logged(rt: Runtime, make_actor, web: TestClient) -> None:  # type: ignore[no-untyped-def]
    from lendshield.rights import service as rights

    alice = make_borrower(rt, make_actor)
    bob = make_borrower(rt, make_actor, phone="13712345678", name="李雷")
    with rt.sessions() as session:
        from lendshield.accounts.borrowers import portal_principal

        theirs = rights.file_request(session, rt, portal_principal(bob.account_id), request_type="access", params={"lang": "zh"})
        session.commit()
    sign_in(web, rt, alice)
    with capture_logs() as logs:
        resp = web.get(f"/portal/requests/{theirs.id}")
    assert resp.status_code == 404
    assert theirs.id not in resp.text
    assert any(e["event"] == "portal_foreign_reference" for e in logs)
    _integrate(rt)
    with rt.sessions() as session:
        bundle = __import__("lendshield.ledger.proofs", fromlist=["x"]).bundle_for_subject(session, rt, bob.subject_id)
    denied = [json.loads(e["body"]) for e in bundle["entries"]]
    assert any(b.get("rule_id") == "not-own-data" and b["actor"] == alice.account_id for b in denied)
    # A subject id in the query string is ignored: the subject always comes from the session.
    assert "李*" not in web.get(f"/portal/data?subject_id={bob.subject_id}").text


def test_script_in_text_fields_is_escaped(rt: Runtime, make_actor, web: TestClient) -> None:  # type: ignore[no-untyped-def]
    from lendshield.rights import service as rights

    person = make_borrower(rt, make_actor)
    officer = make_actor("protection_officer")
    csrf = sign_in(web, rt, person)
    script = "<script>alert('x')</script>"
    resp = web.post("/portal/requests", data={"type": "restriction", "text": script, "csrf": csrf}, follow_redirects=False)
    assert resp.status_code == 303
    resp = web.post("/portal/report", data={"category": "abuse", "text": script, "csrf": csrf}, follow_redirects=False)
    assert resp.status_code == 303
    with rt.sessions() as session:
        mine = rights.list_requests_for_subject(session, rt, officer.principal, person.subject_id)
        rights.refuse(session, rt, officer.principal, mine[-1].id, reason=f"Refused because {script} was sent")
        session.commit()
    for path in ("/portal/requests", f"/portal/requests/{mine[-1].id}"):
        page = web.get(path)
        assert script not in page.text
        assert "&lt;script&gt;" in page.text
    hostile = web.get("/portal/check?lang=<script>x</script>")
    assert "<script>x" not in hostile.text
    bad_phone = web.post("/portal/login", data={"phone": script, "password": "x", "csrf": csrf})
    assert script not in bad_phone.text


def test_timeline_bundle_verifies_offline(rt: Runtime, make_actor, web: TestClient) -> None:  # type: ignore[no-untyped-def]
    person = make_borrower(rt, make_actor)
    csrf = sign_in(web, rt, person)
    web.get("/portal/data")
    web.post("/portal/consents/withdraw", data={"purpose": "marketing", "kind": "purpose", "csrf": csrf})
    _integrate(rt)
    page = web.get("/portal/timeline?lang=en")
    assert "Consent withdrawn" in page.text
    assert "Your data was read" in page.text
    assert "You" in page.text
    download = web.get("/portal/timeline/bundle.json")
    assert download.headers["content-disposition"].startswith("attachment")
    bundle = download.json()
    report = verify_bundle(bundle, tree.log_public_key(rt))
    assert report.ok, report.failures
    assert len(report.verified) == len(bundle["entries"]) > 3
    web.cookies.clear()
    web.cookies.set(SESSION_COOKIE, "forged", domain="testserver", path="/portal")
    assert web.get("/portal/timeline/bundle.json").status_code == 401


def test_file_a_deletion_request_and_see_its_deadline(rt: Runtime, make_actor, web: TestClient) -> None:  # type: ignore[no-untyped-def]
    from lendshield.rights.models import RightsRequestRow

    person = make_borrower(rt, make_actor)
    csrf = sign_in(web, rt, person)
    resp = web.post("/portal/requests", data={"type": "deletion", "ground": "consent_withdrawn", "csrf": csrf}, follow_redirects=False)
    assert resp.status_code == 303
    page = web.get("/portal/requests?lang=en")
    assert "Delete my data" in page.text
    assert "Answer due by" in page.text
    with rt.sessions() as session:
        row = session.scalars(select(RightsRequestRow)).one()
    assert row.subject_id == person.subject_id
    assert row.status == "open"
    assert row.due_on.isoformat() in page.text
    bogus = web.post("/portal/requests", data={"type": "shred_everyone", "csrf": csrf})
    assert bogus.status_code == 422


def test_times_are_shown_in_the_persons_time_zone(rt: Runtime, make_actor, web: TestClient) -> None:  # type: ignore[no-untyped-def]
    # The clock starts at 02:00 UTC: 10:00 in Beijing, 21:00 the evening before in New York.
    person = make_borrower(rt, make_actor, timezone="America/New_York")
    sign_in(web, rt, person)
    page = web.get("/portal/consents")
    assert "2026-11-22 21:00" in page.text
    assert "2026-11-23 10:00" not in page.text
    _integrate(rt)
    assert "America/New_York" in web.get("/portal/timeline").text


def test_download_my_copy_and_not_someone_elses(rt: Runtime, make_actor, web: TestClient) -> None:  # type: ignore[no-untyped-def]
    from lendshield.rights import flows
    from lendshield.rights import service as rights

    alice = make_borrower(rt, make_actor)
    bob = make_borrower(rt, make_actor, phone="13712345678", name="李雷")
    officer = make_actor("protection_officer")
    csrf = sign_in(web, rt, alice)
    assert web.post("/portal/requests", data={"type": "access", "csrf": csrf}, follow_redirects=False).status_code == 303
    with rt.sessions() as session:
        from lendshield.accounts.borrowers import portal_principal

        mine = rights.list_requests_for_subject(session, rt, officer.principal, alice.subject_id)[0]
        theirs = rights.file_request(session, rt, portal_principal(bob.account_id), request_type="access", params={"lang": "zh"})
        for rid in (mine.id, theirs.id):
            flows.fulfil(session, rt, officer.principal, rid)
        session.commit()
    assert "/package" in web.get(f"/portal/requests/{mine.id}").text
    copy = web.get(f"/portal/requests/{mine.id}/package")
    assert copy.status_code == 200
    assert copy.headers["content-type"] == "application/zip"
    assert copy.content[:2] == b"PK"
    assert web.get(f"/portal/requests/{theirs.id}/package").status_code == 404


def test_device_commands_and_their_reasons_are_in_the_timeline_escaped(
    rt: Runtime, clock: FrozenClock, make_actor, web: TestClient
) -> None:  # type: ignore[no-untyped-def]
    from decimal import Decimal

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from lendshield.crypto.jws import public_raw, sign_compact
    from lendshield.devices import service as devices
    from lendshield.devices.protocol import ACK_TYP
    from lendshield.loans.models import LoanRow
    from tests.devices.support import IMEI, grant_device_consent

    person = make_borrower(rt, make_actor)
    collector, operator = make_actor("collector"), make_actor("device_operator")
    key = Ed25519PrivateKey.generate()
    rules = devices.DeviceRules()
    with rt.sessions() as session:
        session.add(
            LoanRow(
                id="L-p",
                borrower_id=person.subject_id,
                principal_amount=Decimal(3000),
                status="overdue",
                overdue_days=80,
                assigned_collector_id=collector.principal.id,
                synthetic=True,
                created_at=clock.now(),
                updated_at=clock.now(),
            )
        )
        session.flush()
        grant_device_consent(session, rt, person.subject_id)
        device_id = devices.enroll(session, rt, operator.principal, loan_id="L-p", device_public_key=public_raw(key), imei=IMEI)
        for final in (False, True):
            row = devices.remind(session, rt, collector.principal, device_id, message_zh="请还款", final=final, rules=rules)
            ack = sign_compact(key, f"dev-{device_id}", {"dev": device_id, "seq": row.seq, "result": "applied"}, ACK_TYP)
            devices.acknowledge(session, rt, device_id, ack)
        session.commit()
    clock.advance(timedelta(days=8))
    script = "<script>alert('x')</script>"
    with rt.sessions() as session:
        devices.request_command(
            session,
            rt,
            collector.principal,
            device_id,
            command="lock",
            reason_code="overdue_unresponsive",
            reason_text=f"no answer {script}",
            rules=rules,
        )
        session.commit()
    sign_in(web, rt, person)
    _integrate(rt)
    page = web.get("/portal/timeline?lang=en")
    assert "A device command was requested" in page.text
    assert "A command was sent to your device" in page.text
    assert "Your device answered a command" in page.text
    assert "waiting for approval" in page.text
    assert script not in page.text
    assert "no answer &lt;script&gt;" in page.text


def test_repeated_wrong_passwords_are_throttled(rt: Runtime, make_actor, web: TestClient) -> None:  # type: ignore[no-untyped-def]
    person = make_borrower(rt, make_actor)
    csrf = csrf_of(web.get("/portal/login?lang=en").text)
    for _ in range(accounts.FREE_FAILURES):
        assert web.post("/portal/login", data={"phone": person.phone, "password": "Wrong-Stone-71?", "csrf": csrf}).status_code == 401
    throttled = web.post("/portal/login", data={"phone": person.phone, "password": PASSWORD, "csrf": csrf})
    assert throttled.status_code == 429
    assert "Too many attempts" in throttled.text
