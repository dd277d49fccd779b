"""Borrowers: registration by phone code, sign-in with password and a one-time code, reset.

Codes are read from the outbox adapter, as the person would read them on their phone.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from tests.accounts.credential_policy import with_credential_check

from lendshield.accounts import borrowers
from lendshield.accounts import service as accounts
from lendshield.accounts.errors import LoginFailed, LoginThrottled, SessionInvalid, WeakPassword
from lendshield.accounts.models import AccountRow, OneTimeCodeRow
from lendshield.accounts.password_policy import PersonalData
from lendshield.clock import FrozenClock
from lendshield.collection.adapter import read_outbox
from lendshield.crypto import LocalKeyFile
from lendshield.errors import InvalidInput
from lendshield.runtime import Runtime
from lendshield.settings import Settings
from lendshield.subjects import service as subjects

PHONE = "13912345678"
RESIDENT_ID = "11010519491231002X"
PASSWORD = "River-Stone-71?"


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    data = tmp_path / "data"
    data.mkdir()
    LocalKeyFile.create(data / "keys.json")
    policies = with_credential_check(Settings().policies_dir, tmp_path / "policies")
    return Settings(environment="test", data_dir=data, database_url=db_url, policies_dir=policies)


@pytest.fixture
def subject_id(rt: Runtime, make_actor) -> str:  # type: ignore[no-untyped-def]
    writer = make_actor("loan_system")
    with rt.sessions() as session:
        sid, _ = subjects.create_subject(
            session, rt, writer.principal, kind="borrower", fields={"name": "王芳", "mobile": PHONE, "resident_id": RESIDENT_ID}
        )
        session.commit()
    return sid


def _outbox(rt: Runtime, sid: str) -> dict[str, str]:
    with rt.sessions() as session:
        return {m.id: m.text for m in read_outbox(session, rt, sid)}


def _begin(rt: Runtime, sid: str, fn, /, **kwargs):  # type: ignore[no-untyped-def]
    """Run a step that sends a code; return its challenge and the code the phone received."""
    before = _outbox(rt, sid)
    challenge = _run(rt, fn, **kwargs)
    new = [text for mid, text in _outbox(rt, sid).items() if mid not in before]
    assert len(new) == 1, "expected exactly one new message"
    match = re.search(r"\b(\d{6})\b", new[0])
    return challenge, (match.group(1) if match else new[0])


def _run(rt: Runtime, fn, /, **kwargs):  # type: ignore[no-untyped-def]
    """One unit of work, kept even when the step fails (attempts must be recorded)."""
    with rt.sessions() as session:
        try:
            result = fn(session, rt, **kwargs)
        except (LoginFailed, LoginThrottled):
            session.commit()
            raise
        except Exception:
            session.rollback()
            raise
        session.commit()
    return result


def _not(code: str, i: int) -> str:
    guess = f"{i:06d}"
    return guess if guess != code else "999999"


def _register(rt: Runtime, sid: str, password: str = PASSWORD) -> str:
    challenge, code = _begin(rt, sid, borrowers.begin_registration, phone=PHONE, client_addr="10.1.1.1")
    return str(_run(rt, borrowers.finish_registration, challenge=challenge.token, code=code, password=password, client_addr="10.1.1.1"))


def _sign_in(rt: Runtime, sid: str, password: str = PASSWORD, addr: str = "10.1.1.2") -> accounts.SignedIn:
    challenge, code = _begin(rt, sid, borrowers.begin_sign_in, phone=PHONE, password=password, client_addr=addr)
    signed: accounts.SignedIn = _run(rt, borrowers.finish_sign_in, challenge=challenge.token, code=code, client_addr=addr)
    return signed


def test_register_then_sign_in_with_password_and_code(rt: Runtime, subject_id: str) -> None:
    account_id = _register(rt, subject_id)
    signed = _sign_in(rt, subject_id)
    with rt.sessions() as session:
        identity = accounts.resolve_session(session, rt, signed.session_token)
        session.commit()
        codes = session.scalars(select(OneTimeCodeRow)).all()
    assert identity.kind == "borrower"
    assert identity.subject_id == subject_id
    assert identity.account_id == account_id
    sent = [m[-20:] for m in _outbox(rt, subject_id).values()]
    assert all(s.encode() not in c.code_digest for c in codes for s in sent)  # only keyed digests are stored
    assert all(c.used_at is not None for c in codes)


def test_password_may_not_carry_birth_date_id_or_phone(rt: Runtime, subject_id: str) -> None:
    challenge, code = _begin(rt, subject_id, borrowers.begin_registration, phone=PHONE, client_addr="10.1.1.1")
    for weak in ("Wf!19491231x", "Qz!45678abcD", "Zz#002Xpq7788", "short1!A"):
        with pytest.raises(WeakPassword):
            _run(rt, borrowers.finish_registration, challenge=challenge.token, code=code, password=weak, client_addr="10.1.1.1")
    # A weak password leaves the code usable: the person may choose again.
    assert _run(rt, borrowers.finish_registration, challenge=challenge.token, code=code, password=PASSWORD, client_addr="10.1.1.1")


def test_wrong_code_expired_code_and_reuse_fail_alike(rt: Runtime, clock: FrozenClock, subject_id: str) -> None:
    _register(rt, subject_id)
    challenge, code = _begin(rt, subject_id, borrowers.begin_sign_in, phone=PHONE, password=PASSWORD, client_addr="10.1.1.3")
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    with pytest.raises(LoginFailed) as bad:
        _run(rt, borrowers.finish_sign_in, challenge=challenge.token, code=wrong, client_addr="10.1.1.3")
    clock.advance(borrowers.CODE_TTL + timedelta(seconds=1))
    with pytest.raises(LoginFailed) as late:
        _run(rt, borrowers.finish_sign_in, challenge=challenge.token, code=code, client_addr="10.1.1.3")
    assert str(bad.value) == str(late.value)
    challenge, code = _begin(rt, subject_id, borrowers.begin_sign_in, phone=PHONE, password=PASSWORD, client_addr="10.1.1.3")
    _run(rt, borrowers.finish_sign_in, challenge=challenge.token, code=code, client_addr="10.1.1.3")
    with pytest.raises(LoginFailed):
        _run(rt, borrowers.finish_sign_in, challenge=challenge.token, code=code, client_addr="10.1.1.3")


def test_a_challenge_dies_after_its_attempt_limit(rt: Runtime, clock: FrozenClock, subject_id: str) -> None:
    _register(rt, subject_id)
    challenge, code = _begin(rt, subject_id, borrowers.begin_sign_in, phone=PHONE, password=PASSWORD, client_addr="10.1.1.4")
    for i in range(borrowers.CODE_ATTEMPTS):
        clock.advance(timedelta(seconds=40))  # stay clear of the growing delays
        with pytest.raises((LoginFailed, LoginThrottled)):
            _run(
                rt,
                borrowers.finish_sign_in,
                challenge=challenge.token,
                code=_not(code, i),
                client_addr="10.1.1.4",
            )
    clock.advance(timedelta(minutes=1))
    with pytest.raises(LoginFailed):
        _run(rt, borrowers.finish_sign_in, challenge=challenge.token, code=code, client_addr="10.1.1.4")


def test_wrong_password_sends_no_code_and_says_what_unknown_login_says(rt: Runtime, subject_id: str) -> None:
    _register(rt, subject_id)
    with rt.sessions() as session:
        before = len(read_outbox(session, rt, subject_id))
    with pytest.raises(LoginFailed) as wrong:
        _run(rt, borrowers.begin_sign_in, phone=PHONE, password="Wrong-Stone-71?", client_addr="10.1.1.5")
    with pytest.raises(LoginFailed) as unknown:
        _run(rt, borrowers.begin_sign_in, phone="13800138000", password=PASSWORD, client_addr="10.1.1.6")
    assert str(wrong.value) == str(unknown.value)
    with rt.sessions() as session:
        assert len(read_outbox(session, rt, subject_id)) == before


def test_registration_and_reset_reveal_nothing_about_accounts(rt: Runtime, subject_id: str) -> None:
    unknown = _run(rt, borrowers.begin_registration, phone="13800138000", client_addr="10.1.1.7")
    known, code = _begin(rt, subject_id, borrowers.begin_registration, phone=PHONE, client_addr="10.1.1.7")
    assert type(unknown) is type(known)
    assert len(unknown.token) == len(known.token)
    with pytest.raises(LoginFailed):  # a challenge for an unknown number accepts no code
        _run(rt, borrowers.finish_registration, challenge=unknown.token, code="123456", password=PASSWORD, client_addr="10.1.1.7")
    _run(rt, borrowers.finish_registration, challenge=known.token, code=code, password=PASSWORD, client_addr="10.1.1.7")
    # Registering again: same answer, and the holder is told by message instead of getting a code.
    again, told = _begin(rt, subject_id, borrowers.begin_registration, phone=PHONE, client_addr="10.1.1.7")
    assert "已有账户" in told
    assert not re.search(r"\d{6}", told)
    with pytest.raises(LoginFailed):
        _run(rt, borrowers.finish_registration, challenge=again.token, code="000000", password=PASSWORD, client_addr="10.1.1.7")
    no_account = _run(rt, borrowers.begin_reset, phone="13800138000", client_addr="10.1.1.8")
    assert len(no_account.token) == len(again.token)
    with pytest.raises(InvalidInput):
        _run(rt, borrowers.begin_reset, phone="not a phone", client_addr="10.1.1.8")


def test_reset_sets_a_new_password_and_ends_sessions(rt: Runtime, subject_id: str) -> None:
    _register(rt, subject_id)
    old = _sign_in(rt, subject_id)
    challenge, code = _begin(rt, subject_id, borrowers.begin_reset, phone=PHONE, client_addr="10.1.1.9")
    with pytest.raises(WeakPassword):
        _run(rt, borrowers.finish_reset, challenge=challenge.token, code=code, password="Wang-1949-1231!", client_addr="10.1.1.9")
    _run(rt, borrowers.finish_reset, challenge=challenge.token, code=code, password="Maple-Harbor-58#", client_addr="10.1.1.9")
    with rt.sessions() as session, pytest.raises(SessionInvalid):
        accounts.resolve_session(session, rt, old.session_token)
    with pytest.raises(LoginFailed):
        _run(rt, borrowers.begin_sign_in, phone=PHONE, password=PASSWORD, client_addr="10.1.1.10")
    assert _sign_in(rt, subject_id, password="Maple-Harbor-58#", addr="10.1.1.11").session_token


def test_codes_per_number_are_capped(rt: Runtime, subject_id: str) -> None:
    for _ in range(borrowers.SENDS_PER_NUMBER):
        _run(rt, borrowers.begin_reset, phone=PHONE, client_addr="10.2.0.1")
    with pytest.raises(LoginThrottled):
        _run(rt, borrowers.begin_reset, phone=PHONE, client_addr="10.2.0.2")


def test_staff_sign_in_refuses_borrowers(rt: Runtime, subject_id: str) -> None:
    with rt.sessions() as session:
        accounts.create_borrower_account(
            session, rt, None, subject_id=subject_id, phone_e164="+86" + PHONE, password=PASSWORD, person=PersonalData(name="王芳")
        )
        session.commit()
        with pytest.raises(InvalidInput):
            accounts.sign_in(session, rt, kind="borrower", login="+86" + PHONE, password=PASSWORD, code=None, client_addr="10.3.0.1")
        assert session.scalar(select(AccountRow.kind)) == "borrower"
