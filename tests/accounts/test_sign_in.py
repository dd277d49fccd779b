"""Sign-in: argon2id passwords, mandatory TOTP for staff with recovery codes, throttling, sessions."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from lendshield.accounts import service as accounts
from lendshield.accounts.errors import LoginFailed, LoginThrottled, SessionInvalid, WeakPassword
from lendshield.accounts.models import AccountRow
from lendshield.accounts.password_policy import PersonalData
from lendshield.clock import FrozenClock
from lendshield.ledger.models import LedgerEntryRow
from lendshield.runtime import Runtime

PASSWORD = "Lantern-Orbit-93!"


@pytest.fixture
def staff(rt: Runtime, make_actor):  # type: ignore[no-untyped-def]
    actor = make_actor("collection_supervisor", name="li.supervisor")
    with rt.sessions() as session:
        made = accounts.create_staff_account(
            session, rt, None, principal_id=actor.principal.id, username="li.supervisor", password=PASSWORD
        )
        session.commit()
    seed = made.totp_uri.split("secret=")[1].split("&")[0]
    return made, pyotp.TOTP(seed)


def _sign_in(rt: Runtime, password: str, code: str | None, addr: str = "10.0.0.1") -> accounts.SignedIn:
    with rt.sessions() as session:
        try:
            result = accounts.sign_in(session, rt, kind="staff", login="li.supervisor", password=password, code=code, client_addr=addr)
        finally:
            session.commit()  # attempts and ledger entries are kept even when sign-in fails
    return result


def test_staff_sign_in_needs_password_and_totp(rt: Runtime, clock: FrozenClock, staff) -> None:  # type: ignore[no-untyped-def]
    _made, totp = staff
    with pytest.raises(LoginFailed):
        _sign_in(rt, PASSWORD, None)
    code = totp.at(clock.now())
    signed = _sign_in(rt, PASSWORD, code)
    assert signed.session_token
    with rt.sessions() as session:
        identity = accounts.resolve_session(session, rt, signed.session_token)
        session.commit()
    assert identity.kind == "staff"


def test_a_totp_code_works_once(rt: Runtime, clock: FrozenClock, staff) -> None:  # type: ignore[no-untyped-def]
    _made, totp = staff
    code = totp.at(clock.now())
    _sign_in(rt, PASSWORD, code)
    with pytest.raises(LoginFailed):
        _sign_in(rt, PASSWORD, code)


def test_recovery_codes_are_single_use(rt: Runtime, clock: FrozenClock, staff) -> None:  # type: ignore[no-untyped-def]
    made, totp = staff
    _sign_in(rt, PASSWORD, totp.at(clock.now()))  # enrolment confirmed
    clock.advance(timedelta(minutes=1))
    _sign_in(rt, PASSWORD, made.recovery_codes[0])
    clock.advance(timedelta(minutes=1))
    with pytest.raises(LoginFailed):
        _sign_in(rt, PASSWORD, made.recovery_codes[0])


def test_wrong_password_and_unknown_login_fail_the_same_way(rt: Runtime, clock: FrozenClock, staff) -> None:  # type: ignore[no-untyped-def]
    _made, totp = staff
    with pytest.raises(LoginFailed) as wrong:
        _sign_in(rt, "Wrong-Password-1!", totp.at(clock.now()))
    with rt.sessions() as session, pytest.raises(LoginFailed) as unknown:
        accounts.sign_in(session, rt, kind="staff", login="nobody", password=PASSWORD, code="123456", client_addr="10.0.0.2")
    assert str(wrong.value) == str(unknown.value)
    with rt.sessions() as session:
        bodies = session.scalars(select(LedgerEntryRow.body).where(LedgerEntryRow.action == "account.sign_in")).all()
    assert any('"decision":"deny"' in b for b in bodies)


def test_growing_delays_after_failures(rt: Runtime, clock: FrozenClock, staff) -> None:  # type: ignore[no-untyped-def]
    _made, totp = staff
    for _ in range(accounts.FREE_FAILURES):
        with pytest.raises(LoginFailed):
            _sign_in(rt, "Wrong-Password-1!", "000000")
    with pytest.raises(LoginThrottled) as throttled:
        _sign_in(rt, PASSWORD, totp.at(clock.now()))
    assert throttled.value.extra["retry_after"] >= 1
    clock.advance(timedelta(seconds=3))
    assert _sign_in(rt, PASSWORD, totp.at(clock.now())).session_token


def test_throttling_per_client_address_across_accounts(rt: Runtime, staff) -> None:  # type: ignore[no-untyped-def]
    def attempt(login: str) -> None:
        with rt.sessions() as session:
            try:
                accounts.sign_in(session, rt, kind="staff", login=login, password="x", code=None, client_addr="203.0.113.9")
            finally:
                session.commit()

    for i in range(accounts.FREE_FAILURES):
        with pytest.raises(LoginFailed):
            attempt(f"guess{i}")
    with pytest.raises(LoginThrottled):
        attempt("another")


def test_sessions_expire_when_idle_and_absolutely(rt: Runtime, clock: FrozenClock, staff) -> None:  # type: ignore[no-untyped-def]
    _made, totp = staff
    signed = _sign_in(rt, PASSWORD, totp.at(clock.now()))
    clock.advance(accounts.STAFF_IDLE + timedelta(seconds=1))
    with rt.sessions() as session, pytest.raises(SessionInvalid):
        accounts.resolve_session(session, rt, signed.session_token)
    clock.advance(timedelta(minutes=1))
    fresh = _sign_in(rt, PASSWORD, totp.at(clock.now()))
    for _ in range(int(accounts.STAFF_ABSOLUTE / timedelta(minutes=20)) + 1):
        clock.advance(timedelta(minutes=20))
        with rt.sessions() as session:
            try:
                accounts.resolve_session(session, rt, fresh.session_token)
            except SessionInvalid:
                break
            session.commit()
    else:
        pytest.fail("session outlived its absolute expiry")


def test_forged_session_token_is_refused(rt: Runtime) -> None:
    with rt.sessions() as session, pytest.raises(SessionInvalid):
        accounts.resolve_session(session, rt, "forged-token")


def test_staff_password_rules_and_no_clear_secrets(rt: Runtime, make_actor) -> None:  # type: ignore[no-untyped-def]
    actor = make_actor("risk_officer")
    with rt.sessions() as session:
        with pytest.raises(WeakPassword):
            accounts.create_staff_account(session, rt, None, principal_id=actor.principal.id, username="wang", password="Short-1!")
        made = accounts.create_staff_account(session, rt, None, principal_id=actor.principal.id, username="wang", password=PASSWORD)
        session.commit()
        row = session.get(AccountRow, made.account_id)
        assert row is not None
        assert row.password_hash.startswith("$argon2id$")
        assert PASSWORD not in row.password_hash
        seed = made.totp_uri.split("secret=")[1].split("&")[0]
        assert row.totp_sealed is not None
        assert seed.encode() not in row.totp_sealed
        assert all(code not in "".join(row.recovery_hashes) for code in made.recovery_codes)


def test_borrower_password_may_not_contain_their_own_data(rt: Runtime, make_actor) -> None:  # type: ignore[no-untyped-def]
    from lendshield.subjects import service as subjects

    writer = make_actor("loan_system")
    with rt.sessions() as session:
        sid, _ = subjects.create_subject(session, rt, writer.principal, kind="borrower", fields={"name": "王芳", "mobile": "13912345678"})
        person = PersonalData(name="wangfang", phone="+8613912345678")
        with pytest.raises(WeakPassword):
            accounts.create_borrower_account(
                session, rt, None, subject_id=sid, phone_e164="+8613912345678", password="Qz!45678abc", person=person
            )
        assert accounts.create_borrower_account(
            session, rt, None, subject_id=sid, phone_e164="+8613912345678", password="River-Stone-71?", person=person
        )
        session.commit()
