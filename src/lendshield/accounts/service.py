"""Accounts: creation under the password rules, sign-in with throttling and TOTP, sessions."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from lendshield import ledger
from lendshield.accounts.errors import LoginFailed, LoginThrottled, MfaRequired, SessionInvalid, WeakPassword
from lendshield.accounts.models import AccountRow, LoginAttemptRow, SessionRow
from lendshield.accounts.password_policy import BORROWER_RULES, STAFF_RULES, PasswordRules, PersonalData, check_password
from lendshield.crypto import constant_time_equal, keyed_digest
from lendshield.crypto.passwords import PasswordHashing
from lendshield.crypto.sealing import seal, unseal
from lendshield.errors import Conflict, Forbidden, InvalidInput, NotFound
from lendshield.principals import Principal
from lendshield.runtime import Runtime

LOGIN_SECRET = "accounts/login"
THROTTLE_SECRET = "accounts/throttle"
FREE_FAILURES = 5
THROTTLE_WINDOW = timedelta(minutes=15)
MAX_DELAY = timedelta(minutes=15)
STAFF_IDLE = timedelta(minutes=30)
STAFF_ABSOLUTE = timedelta(hours=12)
BORROWER_IDLE = timedelta(hours=2)
BORROWER_ABSOLUTE = timedelta(days=1)
RECOVERY_CODES = 10


@dataclass(frozen=True)
class NewStaffAccount:
    account_id: str
    totp_uri: str
    recovery_codes: list[str]


@dataclass(frozen=True)
class SignedIn:
    account_id: str
    session_token: str
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True)
class AccountIdentity:
    account_id: str
    kind: str
    principal_id: str | None
    subject_id: str | None
    csrf_digest: bytes


def login_digest(rt: Runtime, kind: str, login: str) -> bytes:
    return keyed_digest(rt.keys.secret(LOGIN_SECRET), kind, login.strip().lower())


def _throttle_key(rt: Runtime, prefix: str, value: str) -> str:
    return f"{prefix}:{keyed_digest(rt.keys.secret(THROTTLE_SECRET), prefix, value).hex()[:40]}"


def _hashing() -> PasswordHashing:
    return PasswordHashing()


def _require_strong(password: str, rules: PasswordRules, person: PersonalData) -> None:
    verdict = check_password(password, rules, person)
    if not verdict.ok:
        raise WeakPassword("password refused: " + "; ".join(verdict.problems), problems=verdict.problems)


def _recovery_codes() -> list[str]:
    return [f"{secrets.token_hex(4)}-{secrets.token_hex(4)}" for _ in range(RECOVERY_CODES)]


def create_staff_account(
    session: Session,
    rt: Runtime,
    who: Principal | None,
    *,
    principal_id: str,
    username: str,
    password: str,
    display_name: str | None = None,
) -> NewStaffAccount:
    """A staff account for an existing principal. TOTP is mandatory: enrolment returns the seed URI once."""
    if who is not None and not who.has_role("admin"):
        raise Forbidden("only an administrator may create staff accounts")
    _require_strong(password, STAFF_RULES, PersonalData(name=display_name or username, extra=(username,)))
    digest = login_digest(rt, "staff", username)
    if session.scalar(select(AccountRow.id).where(AccountRow.login_digest == digest)) is not None:
        raise Conflict("that user name is taken")
    account_id = str(uuid.uuid4())
    seed = pyotp.random_base32()
    codes = _recovery_codes()
    hashing = _hashing()
    now = rt.clock.now()
    session.add(
        AccountRow(
            id=account_id,
            kind="staff",
            login_digest=digest,
            principal_id=principal_id,
            subject_id=None,
            password_hash=hashing.hash(password),
            totp_sealed=seal(rt.keys, "totp", seed.encode(), account_id.encode()),
            totp_confirmed=False,
            totp_last_step=0,
            recovery_hashes=[hashing.hash(c) for c in codes],
            active=True,
            created_at=now,
            password_changed_at=now,
        )
    )
    ledger.append(
        session,
        ledger.Entry(
            time=now,
            actor=who.id if who else "bootstrap",
            action="account.create",
            object=f"account:{account_id}",
            details={"kind": "staff"},
        ),
    )
    uri = pyotp.TOTP(seed).provisioning_uri(name=username, issuer_name="LendShield")
    return NewStaffAccount(account_id, uri, codes)


def create_borrower_account(
    session: Session, rt: Runtime, who: Principal | None, *, subject_id: str, phone_e164: str, password: str, person: PersonalData
) -> str:
    """A borrower account; ``person`` carries what the vault knows, to keep it out of the password."""
    return create_borrower_by_digest(
        session, rt, who, subject_id=subject_id, digest=login_digest(rt, "borrower", phone_e164), password=password, person=person
    )


def create_borrower_by_digest(
    session: Session, rt: Runtime, who: Principal | None, *, subject_id: str, digest: bytes, password: str, person: PersonalData
) -> str:
    """As ``create_borrower_account``, for a number known only by its login digest (self-registration)."""
    _require_strong(password, BORROWER_RULES, person)
    if session.scalar(select(AccountRow.id).where(AccountRow.subject_id == subject_id, AccountRow.kind == "borrower")) is not None:
        raise Conflict("this person already has an account")
    if session.scalar(select(AccountRow.id).where(AccountRow.login_digest == digest)) is not None:
        raise Conflict("an account exists for this phone number")
    account_id = str(uuid.uuid4())
    now = rt.clock.now()
    session.add(
        AccountRow(
            id=account_id,
            kind="borrower",
            login_digest=digest,
            principal_id=None,
            subject_id=subject_id,
            password_hash=_hashing().hash(password),
            totp_sealed=None,
            totp_confirmed=False,
            totp_last_step=0,
            recovery_hashes=[],
            active=True,
            created_at=now,
            password_changed_at=now,
        )
    )
    ledger.append(
        session,
        ledger.Entry(
            time=now,
            actor=who.id if who else "self",
            action="account.create",
            object=f"account:{account_id}",
            subject_ref=ledger.subject_ref(rt.keys, subject_id),
            details={"kind": "borrower"},
        ),
    )
    return account_id


def _failures(session: Session, key: str, since: datetime) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(LoginAttemptRow)
            .where(LoginAttemptRow.key == key, LoginAttemptRow.at >= since, LoginAttemptRow.success.is_(False))
        )
        or 0
    )


def _last_failure(session: Session, key: str) -> datetime | None:
    return session.scalar(select(func.max(LoginAttemptRow.at)).where(LoginAttemptRow.key == key, LoginAttemptRow.success.is_(False)))


def _check_throttle(session: Session, keys: list[str], now: datetime) -> None:
    """Growing delays: after FREE_FAILURES failures in the window, wait 2^(n-FREE) seconds (capped)."""
    for key in keys:
        n = _failures(session, key, now - THROTTLE_WINDOW)
        if n < FREE_FAILURES:
            continue
        delay = min(timedelta(seconds=2 ** (n - FREE_FAILURES + 1)), MAX_DELAY)
        last = _last_failure(session, key)
        if last is not None and now < last + delay:
            wait = int((last + delay - now).total_seconds()) + 1
            raise LoginThrottled(f"too many failed sign-ins; try again in {wait} s", retry_after=wait)


def _verify_totp(account: AccountRow, rt: Runtime, code: str, now: datetime) -> bool:
    if account.totp_sealed is None:
        return False
    seed = unseal(rt.keys, "totp", account.totp_sealed, account.id.encode()).decode()
    totp = pyotp.TOTP(seed)
    step = int(now.timestamp()) // totp.interval
    for candidate in (step - 1, step, step + 1):  # RFC 6238 §5.2: allow one step of clock drift
        if candidate > account.totp_last_step and constant_time_equal(totp.at(candidate * totp.interval).encode(), code.encode()):
            account.totp_last_step = candidate  # a code is good once (replay protection)
            return True
    return False


def _use_recovery_code(account: AccountRow, code: str) -> bool:
    hashing = _hashing()
    for stored in account.recovery_hashes:
        if hashing.verify(stored, code):
            account.recovery_hashes = [h for h in account.recovery_hashes if h != stored]
            return True
    return False


_DUMMY_HASH: str | None = None


def _dummy_hash() -> str:
    global _DUMMY_HASH  # noqa: PLW0603 - computed once, lazily, to equalise timing for unknown logins
    if _DUMMY_HASH is None:
        _DUMMY_HASH = _hashing().hash(secrets.token_urlsafe(16))
    return _DUMMY_HASH


def sign_in(session: Session, rt: Runtime, *, kind: str, login: str, password: str, code: str | None, client_addr: str) -> SignedIn:
    """Staff: check throttles, password and TOTP; open a session. Every outcome is recorded.

    Borrowers sign in in two steps with a code sent to their phone (``accounts.borrowers``).
    """
    if kind != "staff":
        raise InvalidInput("borrowers sign in with a one-time code (accounts.borrowers)", path="kind")
    now = rt.clock.now()
    digest = login_digest(rt, kind, login)
    keys = [_throttle_key(rt, "account", digest.hex()), _throttle_key(rt, "addr", client_addr)]
    _check_throttle(session, keys, now)
    account = session.scalar(select(AccountRow).where(AccountRow.login_digest == digest, AccountRow.kind == kind))
    hashing = _hashing()
    ok = hashing.verify(account.password_hash if account else _dummy_hash(), password) and account is not None and account.active
    if ok and account is not None and kind == "staff":
        if not account.totp_confirmed:
            ok = code is not None and _verify_totp(account, rt, code, now)
            if ok:
                account.totp_confirmed = True
        else:
            ok = code is not None and (_verify_totp(account, rt, code, now) or _use_recovery_code(account, code))
    for key in keys:
        session.add(LoginAttemptRow(key=key, at=now, success=ok))
    actor = (account.principal_id or account.id) if account else "unknown"
    ledger.append(
        session,
        ledger.Entry(
            time=now,
            actor=actor or "unknown",
            action="account.sign_in",
            object=f"account:{account.id}" if account else "account:unknown",
            decision="allow" if ok else "deny",
            subject_ref=ledger.subject_ref(rt.keys, account.subject_id) if account and account.subject_id else None,
        ),
    )
    if not ok or account is None:
        raise LoginFailed()
    if hashing.needs_rehash(account.password_hash):
        account.password_hash = hashing.hash(password)
    return open_session(session, account, now)


def open_session(session: Session, account: AccountRow, now: datetime) -> SignedIn:
    """A new session for an account that has passed every check; the token is returned once."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    absolute = STAFF_ABSOLUTE if account.kind == "staff" else BORROWER_ABSOLUTE
    session.add(
        SessionRow(
            id=hashlib.sha256(token.encode()).hexdigest(),
            account_id=account.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + absolute,
            revoked=False,
            csrf_digest=hashlib.sha256(csrf.encode()).digest(),
        )
    )
    return SignedIn(account.id, token, csrf, now + absolute)


def revoke_sessions(session: Session, account_id: str) -> None:
    """End every session of an account (after a password change or reset)."""
    session.execute(update(SessionRow).where(SessionRow.account_id == account_id).values(revoked=True))


def resolve_session(session: Session, rt: Runtime, token: str) -> AccountIdentity:
    """Idle and absolute expiry; touching the session extends only the idle window."""
    now = rt.clock.now()
    row = session.get(SessionRow, hashlib.sha256(token.encode()).hexdigest()) if token else None
    if row is None or row.revoked or now >= row.expires_at:
        raise SessionInvalid()
    account = session.get(AccountRow, row.account_id)
    if account is None or not account.active:
        raise SessionInvalid()
    idle = STAFF_IDLE if account.kind == "staff" else BORROWER_IDLE
    if now - row.last_seen_at > idle:
        row.revoked = True
        raise SessionInvalid()
    row.last_seen_at = now
    return AccountIdentity(account.id, account.kind, account.principal_id, account.subject_id, row.csrf_digest)


def check_csrf(identity: AccountIdentity, presented: str | None) -> None:
    if not presented or not constant_time_equal(hashlib.sha256(presented.encode()).digest(), identity.csrf_digest):
        raise Forbidden("the form's CSRF token is missing or wrong")


def sign_out(session: Session, rt: Runtime, token: str) -> None:
    row = session.get(SessionRow, hashlib.sha256(token.encode()).hexdigest())
    if row is not None:
        row.revoked = True


def require_mfa(session: Session, account_id: str) -> None:
    account = session.get(AccountRow, account_id)
    if account is None:
        raise NotFound("no such account")
    if account.kind == "staff" and not account.totp_confirmed:
        raise MfaRequired("staff must enrol TOTP before using the console")


def purge_attempts(session: Session, before: datetime) -> int:
    result = session.execute(delete(LoginAttemptRow).where(LoginAttemptRow.at < before))
    return int(getattr(result, "rowcount", 0) or 0)
