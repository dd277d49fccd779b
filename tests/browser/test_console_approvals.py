"""In a real browser: two staff members with TOTP take a lock request through maker-checker."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pyotp
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from lendshield.accounts import service as accounts
from lendshield.clock import FrozenClock
from lendshield.crypto.jws import public_raw, sign_compact
from lendshield.devices import service as devices
from lendshield.devices.models import CommandRequestRow, CommandRow
from lendshield.devices.protocol import ACK_TYP
from lendshield.loans.models import LoanRow
from lendshield.runtime import Runtime
from lendshield.subjects import service as subjects
from tests.browser.console_login import sign_in
from tests.devices.support import IMEI, grant_device_consent

PASSWORD = "Lantern-Orbit-93!"
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _staff(rt: Runtime, make_actor, role: str, username: str) -> pyotp.TOTP:  # type: ignore[no-untyped-def]
    actor = make_actor(role, name=username)
    with rt.sessions() as session:
        made = accounts.create_staff_account(session, rt, None, principal_id=actor.principal.id, username=username, password=PASSWORD)
        session.commit()
    return pyotp.TOTP(made.totp_uri.split("secret=")[1].split("&")[0])


def _pending_lock(rt: Runtime, clock: FrozenClock, make_actor) -> str:  # type: ignore[no-untyped-def]
    writer, collector, operator = make_actor("loan_system"), make_actor("collector"), make_actor("device_operator")
    key = Ed25519PrivateKey.generate()
    rules = devices.DeviceRules()
    with rt.sessions() as session:
        sid, _ = subjects.create_subject(session, rt, writer.principal, kind="borrower", fields={"name": "周九"})
        session.add(
            LoanRow(
                id="L-b",
                borrower_id=sid,
                principal_amount=Decimal(5000),
                status="overdue",
                overdue_days=80,
                assigned_collector_id=collector.principal.id,
                synthetic=True,
                created_at=clock.now(),
                updated_at=clock.now(),
            )
        )
        session.flush()
        grant_device_consent(session, rt, sid)
        device_id = devices.enroll(session, rt, operator.principal, loan_id="L-b", device_public_key=public_raw(key), imei=IMEI)
        for final in (False, True):
            row = devices.remind(session, rt, collector.principal, device_id, message_zh="请还款", final=final, rules=rules)
            ack = sign_compact(key, f"dev-{device_id}", {"dev": device_id, "seq": row.seq, "result": "applied"}, ACK_TYP)
            devices.acknowledge(session, rt, device_id, ack)
        session.commit()
    clock.advance(timedelta(days=8))
    with rt.sessions() as session:
        rid = devices.request_command(
            session,
            rt,
            collector.principal,
            device_id,
            command="lock",
            reason_code="overdue_unresponsive",
            reason_text="80 days overdue; <script>alert('x')</script> no answer",
            rules=rules,
        )
        session.commit()
    return rid


def _sign_in(page, base: str, username: str, totp: pyotp.TOTP, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, base, username, PASSWORD, totp, clock)


@pytest.mark.browser
def test_two_staff_with_totp_approve_a_lock(rt: Runtime, clock: FrozenClock, make_actor, live_server: str, page) -> None:  # type: ignore[no-untyped-def]
    if rt.engine.dialect.name != "sqlite":
        pytest.skip("the browser walk-through runs once, on the embedded default")
    supervisor = _staff(rt, make_actor, "collection_supervisor", "supervisor.li")
    risk = _staff(rt, make_actor, "risk_officer", "risk.wang")
    rid = _pending_lock(rt, clock, make_actor)

    page.goto(f"{live_server}/console/login?lang=en")
    page.get_by_label("User name").fill("supervisor.li")
    page.get_by_label("Password").fill("wrong-password-1A!")
    page.get_by_label("One-time code (authenticator app) or recovery code").fill("000000")
    page.get_by_role("button", name="Sign in").click()
    assert "not correct" in page.get_by_role("alert").inner_text()

    _sign_in(page, live_server, "supervisor.li", supervisor, clock)
    page.goto(f"{live_server}/console/approvals")
    card = page.locator("article")
    assert "<script>" in card.inner_text()  # shown as text, never run
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "console-approvals.png"), full_page=True)
    card.get_by_label("Your reason").fill("Reminders and final notice delivered; file checked")
    card.get_by_role("button", name="Approve").click()
    assert "recorded" in page.get_by_role("status").inner_text()
    page.get_by_role("button", name="Sign out").click()

    clock.advance(timedelta(seconds=31))  # a new TOTP step for the next person
    _sign_in(page, live_server, "risk.wang", risk, clock)
    page.goto(f"{live_server}/console/approvals")
    page.locator("article").get_by_label("Your reason").fill("Risk review done")
    page.locator("article").get_by_role("button", name="Approve").click()
    assert "Nothing is waiting" in page.content()

    with rt.sessions() as session:
        assert session.get(CommandRequestRow, rid).status == "issued"  # type: ignore[union-attr]
        assert session.scalars(select(CommandRow.command).order_by(CommandRow.seq.desc())).first() == "lock"


@pytest.mark.browser
def test_forged_csrf_is_refused(rt: Runtime, clock: FrozenClock, make_actor, live_server: str, page) -> None:  # type: ignore[no-untyped-def]
    if rt.engine.dialect.name != "sqlite":
        pytest.skip("runs once, on the embedded default")
    supervisor = _staff(rt, make_actor, "collection_supervisor", "supervisor.zhao")
    rid = _pending_lock(rt, clock, make_actor)
    _sign_in(page, live_server, "supervisor.zhao", supervisor, clock)
    page.goto(f"{live_server}/console/approvals")
    page.locator("article input[name=csrf]").evaluate("el => el.value = 'forged'")
    page.locator("article").get_by_label("Your reason").fill("approve with a forged token")
    resp = page.locator("article").get_by_role("button", name="Approve")
    with page.expect_response(lambda r: "/console/approvals/" in r.url) as info:
        resp.click()
    assert info.value.status == 403
    with rt.sessions() as session:
        assert session.get(CommandRequestRow, rid).status == "pending"  # type: ignore[union-attr]
