"""Borrower accounts: register by phone, sign in with phone + password + a one-time code, reset.

The seed asks that people sign in safely and that passwords never carry their own data. A code
goes to the phone through the contact adapter (``collection.delivery``): the platform reads the
number through the gate and nobody else sees it. Only a keyed digest of each code is stored,
bound to its challenge, with an expiry, an attempt limit and single use.

Nothing here tells a caller whether a number has an account: registration and reset always
answer "if the number is ours, a code is on its way" and hand back a challenge; a challenge for
a number we do not know (or that cannot register) accepts no code, and fails exactly like a
wrong code. Wrong passwords and wrong codes count towards the same throttles as staff sign-in.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lendshield import ledger
from lendshield.accounts.errors import LoginFailed, LoginThrottled
from lendshield.accounts.models import AccountRow, LoginAttemptRow, OneTimeCodeRow
from lendshield.accounts.password_policy import BORROWER_RULES, PersonalData
from lendshield.accounts.service import (
    SignedIn,
    _check_throttle,
    _dummy_hash,
    _hashing,
    _require_strong,
    _throttle_key,
    create_borrower_by_digest,
    login_digest,
    open_session,
    revoke_sessions,
)
from lendshield.catalog import FieldInvalid
from lendshield.catalog.validators import resident_id_birth_date
from lendshield.collection.delivery import send_message
from lendshield.crypto import constant_time_equal, keyed_digest
from lendshield.errors import ConfigurationError, InvalidInput
from lendshield.principals import SYSTEM, Principal
from lendshield.runtime import Runtime
from lendshield.subjects import service as subjects

CODE_SECRET = "accounts/one-time-code"
CODE_TTL = timedelta(minutes=5)
CODE_ATTEMPTS = 5
CODE_DIGITS = 6
SEND_WINDOW = timedelta(hours=1)
SENDS_PER_NUMBER = 5
SENDS_PER_ADDRESS = 20
CREDENTIAL_PURPOSE = "credential_check"
"""The purpose under which the platform reads a person's name, number and ID to keep them out of
their password (R7). It must exist in the policy (role ``system``, clear); without it no borrower
can set a password here, rather than set one we could not check."""

TEXTS = {
    "sign_in": "【LendShield】登录验证码 {code}，5分钟内有效。任何人向您索要验证码都是诈骗，包括自称本公司员工的人。",
    "register": "【LendShield】注册验证码 {code}，5分钟内有效。如非本人操作，请忽略。",
    "reset": "【LendShield】重置密码验证码 {code}，5分钟内有效。如非本人操作，请忽略，您的密码不会改变。",
    "exists": "【LendShield】有人用您的号码申请注册，但您已有账户。如非本人操作，请忽略；忘记密码可在登录页重置。",
}


@dataclass(frozen=True, slots=True)
class Challenge:
    """Handed to the person's browser (a cookie); the code itself went to their phone."""

    token: str
    expires_at: datetime


def portal_principal(account_id: str) -> Principal:
    """Who a signed-in borrower is to every service: their account, never their subject id."""
    return Principal(id=account_id, name="borrower", kind="borrower", roles=frozenset({"borrower"}))


def normalise_phone(rt: Runtime, raw: str) -> str | None:
    try:
        value, _ = rt.catalog.fields["mobile"].validate(raw[:40], "phone")
    except FieldInvalid:
        return None
    return value


def _challenge_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _code_digest(rt: Runtime, challenge_id: str, code: str) -> bytes:
    return keyed_digest(rt.keys.secret(CODE_SECRET), challenge_id, code)


def _send_keys(rt: Runtime, digest: bytes, client_addr: str) -> list[tuple[str, int]]:
    return [
        (_throttle_key(rt, "send-number", digest.hex()), SENDS_PER_NUMBER),
        (_throttle_key(rt, "send-addr", client_addr), SENDS_PER_ADDRESS),
    ]


def _check_sends(session: Session, rt: Runtime, digest: bytes, client_addr: str, now: datetime) -> None:
    """A hard cap on codes per number and per address (SMS bombing, code farming); counted even
    for numbers we do not know, so the cap itself reveals nothing."""
    keys = _send_keys(rt, digest, client_addr)
    for key, limit in keys:
        sent = session.scalar(
            select(func.count()).select_from(LoginAttemptRow).where(LoginAttemptRow.key == key, LoginAttemptRow.at >= now - SEND_WINDOW)
        )
        if int(sent or 0) >= limit:
            raise LoginThrottled("too many codes requested; try again later", retry_after=int(SEND_WINDOW.total_seconds()))
    for key, _ in keys:
        session.add(LoginAttemptRow(key=key, at=now, success=False))


def _new_challenge(
    session: Session,
    rt: Runtime,
    *,
    purpose: str,
    now: datetime,
    account_id: str | None = None,
    subject_id: str | None = None,
    digest: bytes | None = None,
    text_key: str | None = None,
) -> Challenge:
    token = secrets.token_urlsafe(32)
    cid = _challenge_id(token)
    deliver = subject_id is not None and text_key is None
    # A challenge that must never succeed gets a code nobody was sent (and that is not 6 digits).
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}" if deliver else secrets.token_hex(16)
    session.add(
        OneTimeCodeRow(
            id=cid,
            purpose=purpose,
            account_id=account_id if deliver else None,
            subject_id=subject_id if deliver else None,
            login_digest=digest if deliver else None,
            code_digest=_code_digest(rt, cid, code),
            created_at=now,
            expires_at=now + CODE_TTL,
            attempts=0,
            used_at=None,
        )
    )
    session.flush()
    if subject_id is not None:
        text = TEXTS[text_key or purpose].format(code=code)
        # record_text=False: the digest of a 6-digit code could be reversed by trying them all.
        send_message(session, rt, SYSTEM, subject_id, text, reason=f"account {purpose} code", record_text=False)
    return Challenge(token, now + CODE_TTL)


def _take(session: Session, rt: Runtime, *, challenge: str, purpose: str, code: str, client_addr: str) -> OneTimeCodeRow:
    """The challenge's code, checked once: right purpose, unused, unexpired, under the attempt limit."""
    now = rt.clock.now()
    row = session.get(OneTimeCodeRow, _challenge_id(challenge)) if challenge else None
    keys = [_throttle_key(rt, "addr", client_addr)]
    account = session.get(AccountRow, row.account_id) if row is not None and row.account_id else None
    if account is not None:
        keys.append(_throttle_key(rt, "account", account.login_digest.hex()))
    _check_throttle(session, keys, now)
    code = code.strip()
    ok = (
        row is not None
        and row.purpose == purpose
        and row.subject_id is not None
        and row.used_at is None
        and now < row.expires_at
        and row.attempts < CODE_ATTEMPTS
        and len(code) == CODE_DIGITS
        and constant_time_equal(_code_digest(rt, row.id, code), row.code_digest)
    )
    if row is not None:
        if ok:
            row.used_at = now  # single use
        else:
            row.attempts += 1
    for key in keys:
        session.add(LoginAttemptRow(key=key, at=now, success=ok))
    if not ok or row is None:
        ledger.append(
            session,
            ledger.Entry(
                time=now,
                actor=account.id if account else "unknown",
                action=f"account.{purpose}_code",
                object=f"account:{account.id}" if account else "account:unknown",
                decision="deny",
                subject_ref=ledger.subject_ref(rt.keys, account.subject_id) if account and account.subject_id else None,
            ),
        )
        raise LoginFailed()
    return row


def begin_sign_in(session: Session, rt: Runtime, *, phone: str, password: str, client_addr: str) -> Challenge:
    """Step 1: phone and password. Right: a code goes to the phone. Wrong: the same error as staff."""
    now = rt.clock.now()
    e164 = normalise_phone(rt, phone)
    digest = login_digest(rt, "borrower", e164 or phone)
    keys = [_throttle_key(rt, "account", digest.hex()), _throttle_key(rt, "addr", client_addr)]
    _check_throttle(session, keys, now)
    account = session.scalar(select(AccountRow).where(AccountRow.login_digest == digest, AccountRow.kind == "borrower")) if e164 else None
    hashing = _hashing()
    ok = hashing.verify(account.password_hash if account else _dummy_hash(), password) and account is not None and account.active
    if not ok or account is None or account.subject_id is None:
        for key in keys:
            session.add(LoginAttemptRow(key=key, at=now, success=False))
        ledger.append(
            session,
            ledger.Entry(
                time=now,
                actor=account.id if account else "unknown",
                action="account.sign_in",
                object=f"account:{account.id}" if account else "account:unknown",
                decision="deny",
                subject_ref=ledger.subject_ref(rt.keys, account.subject_id) if account and account.subject_id else None,
            ),
        )
        raise LoginFailed()
    if hashing.needs_rehash(account.password_hash):
        account.password_hash = hashing.hash(password)
    _check_sends(session, rt, digest, client_addr, now)
    return _new_challenge(session, rt, purpose="sign_in", now=now, account_id=account.id, subject_id=account.subject_id, digest=digest)


def finish_sign_in(session: Session, rt: Runtime, *, challenge: str, code: str, client_addr: str) -> SignedIn:
    """Step 2: the code from the phone. Opens the session; every outcome is in the ledger."""
    row = _take(session, rt, challenge=challenge, purpose="sign_in", code=code, client_addr=client_addr)
    account = session.get(AccountRow, row.account_id) if row.account_id else None
    now = rt.clock.now()
    if account is None or not account.active:
        raise LoginFailed()
    ledger.append(
        session,
        ledger.Entry(
            time=now,
            actor=account.id,
            action="account.sign_in",
            object=f"account:{account.id}",
            decision="allow",
            subject_ref=ledger.subject_ref(rt.keys, row.subject_id) if row.subject_id else None,
        ),
    )
    return open_session(session, account, now)


def begin_registration(session: Session, rt: Runtime, *, phone: str, client_addr: str) -> Challenge:
    """A code to the number if it is a borrower's we hold and they have no account yet.

    Whatever the case, the caller gets a challenge and the same answer. A person who already has
    an account is told by message that someone tried (and no code is sent).
    """
    now = rt.clock.now()
    e164 = normalise_phone(rt, phone)
    if e164 is None:
        raise InvalidInput("not a valid mobile number", path="phone")
    digest = login_digest(rt, "borrower", e164)
    _check_sends(session, rt, digest, client_addr, now)
    # The platform looks the number up to deliver a code: the delivery bridge's purpose.
    ids = subjects.find_by(session, rt, SYSTEM, "mobile", e164, purpose="contact_delivery")
    if len(ids) != 1:
        return _new_challenge(session, rt, purpose="register", now=now)
    subject_id = ids[0]
    taken = session.scalar(
        select(AccountRow.id).where(
            (AccountRow.login_digest == digest) | ((AccountRow.subject_id == subject_id) & (AccountRow.kind == "borrower"))
        )
    )
    if taken is not None:
        return _new_challenge(session, rt, purpose="register", now=now, subject_id=subject_id, text_key="exists")
    return _new_challenge(session, rt, purpose="register", now=now, subject_id=subject_id, digest=digest)


def personal_data(session: Session, rt: Runtime, subject_id: str) -> PersonalData:
    """Name, number, ID and birth date from the vault, through the gate, for the password check only.

    The values live in this object for the length of one request and are never stored.
    """
    if CREDENTIAL_PURPOSE not in rt.policy.purposes:
        raise ConfigurationError(
            f"the policy has no purpose '{CREDENTIAL_PURPOSE}': borrower passwords cannot be checked against the person's own data"
        )
    view = subjects.read_fields(
        session,
        rt,
        SYSTEM,
        subject_id,
        ["name", "mobile", "resident_id"],
        purpose=CREDENTIAL_PURPOSE,
        reason="keep the person's own data out of their new password (R7)",
        clear=True,
        via="credential_check",
    )

    def value(name: str) -> str | None:
        held = view.fields.get(name)
        return held.value if held is not None else None

    rid = value("resident_id")
    try:
        born = resident_id_birth_date(rid) if rid else None
    except ValueError:
        born = None
    return PersonalData(name=value("name"), birth_date=born, phone=value("mobile"), resident_id=rid)


def finish_registration(session: Session, rt: Runtime, *, challenge: str, code: str, password: str, client_addr: str) -> str:
    """The code proves the phone; the password must pass the borrower rules. Returns the account id.

    A weak password raises before anything is kept (the unit of work rolls back), so the person
    can choose another with the same code; a wrong code is kept and counts.
    """
    row = _take(session, rt, challenge=challenge, purpose="register", code=code, client_addr=client_addr)
    if row.subject_id is None or row.login_digest is None:
        raise LoginFailed()
    person = personal_data(session, rt, row.subject_id)
    return create_borrower_by_digest(
        session, rt, None, subject_id=row.subject_id, digest=row.login_digest, password=password, person=person
    )


def begin_reset(session: Session, rt: Runtime, *, phone: str, client_addr: str) -> Challenge:
    """A reset code to the number if it has an account; the caller cannot tell which happened."""
    now = rt.clock.now()
    e164 = normalise_phone(rt, phone)
    if e164 is None:
        raise InvalidInput("not a valid mobile number", path="phone")
    digest = login_digest(rt, "borrower", e164)
    _check_sends(session, rt, digest, client_addr, now)
    account = session.scalar(select(AccountRow).where(AccountRow.login_digest == digest, AccountRow.kind == "borrower"))
    if account is None or not account.active or account.subject_id is None:
        return _new_challenge(session, rt, purpose="reset", now=now)
    return _new_challenge(session, rt, purpose="reset", now=now, account_id=account.id, subject_id=account.subject_id, digest=digest)


def finish_reset(session: Session, rt: Runtime, *, challenge: str, code: str, password: str, client_addr: str) -> None:
    """Set a new password (same rules as registration) and end every session of the account."""
    row = _take(session, rt, challenge=challenge, purpose="reset", code=code, client_addr=client_addr)
    account = session.get(AccountRow, row.account_id) if row.account_id else None
    if account is None or account.subject_id is None:
        raise LoginFailed()
    _require_strong(password, BORROWER_RULES, personal_data(session, rt, account.subject_id))
    now = rt.clock.now()
    account.password_hash = _hashing().hash(password)
    account.password_changed_at = now
    revoke_sessions(session, account.id)
    ledger.append(
        session,
        ledger.Entry(
            time=now,
            actor=account.id,
            action="account.password_reset",
            object=f"account:{account.id}",
            subject_ref=ledger.subject_ref(rt.keys, account.subject_id),
        ),
    )
