"""Identity verification by a one-time code to the person's verified phone (PIPL Art. 50: the
processor verifies who is asking before it answers).

Only a keyed digest of the code is kept; a code expires, allows a few attempts and is used once.
A wrong, expired, replayed or exhausted code is refused and the attempt stays in the ledger.
"""

from __future__ import annotations

import secrets
import uuid

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lendshield.collection.delivery import send_message
from lendshield.crypto import constant_time_equal, keyed_digest
from lendshield.principals import Principal
from lendshield.rights import service
from lendshield.rights.errors import RightsForbidden, VerificationFailed, WrongState
from lendshield.rights.models import RightsRequestRow, VerificationCodeRow
from lendshield.runtime import Runtime

CODE_SECRET = "rights/verification-code"


def _digest(rt: Runtime, code_id: str, request_id: str, code: str) -> bytes:
    return keyed_digest(rt.keys.secret(CODE_SECRET), code_id, request_id, code)


def _may_verify(session: Session, rt: Runtime, who: Principal, row: RightsRequestRow) -> None:
    r = service.rules(rt)
    if who.kind == "borrower":
        if service.own_subject(session, who) != row.subject_id:
            service.refuse_foreign(session, rt, who, row.subject_id, "rights.verify", row.id)
        return
    if not who.roles & (r.file_roles | r.work_roles):
        raise RightsForbidden("this role may not verify a person's identity")


def send_code(session: Session, rt: Runtime, who: Principal, request_id: str) -> str:
    """Text a fresh code to the person's verified mobile; earlier codes stop working.

    Returns the masked number it went to (for the screen: "sent to 138****5678").
    """
    row = service.load(session, request_id)
    _may_verify(session, rt, who, row)
    if row.status != "unverified":
        raise WrongState("this request does not wait for identity verification")
    r = service.rules(rt)
    now = rt.clock.now()
    session.execute(
        update(VerificationCodeRow)
        .where(VerificationCodeRow.request_id == row.id, VerificationCodeRow.used_at.is_(None), VerificationCodeRow.expires_at > now)
        .values(expires_at=now)
    )
    code = f"{secrets.randbelow(10**r.code_digits):0{r.code_digits}d}"
    code_id = str(uuid.uuid4())
    session.add(
        VerificationCodeRow(
            id=code_id,
            request_id=row.id,
            digest=_digest(rt, code_id, row.id, code),
            created_at=now,
            expires_at=now + r.code_ttl,
            attempts=0,
        )
    )
    minutes = int(r.code_ttl.total_seconds() // 60)
    text = (
        f"【LendShield】您的个人信息权利请求验证码：{code}，{minutes}分钟内有效。请勿告诉他人。"
        f" Your rights-request code: {code}, valid {minutes} min. Never share it."
    )
    delivered = send_message(
        session, rt, who, row.subject_id, text, reason="identity verification for a rights request (PIPL Art. 50)", record_text=False
    )
    service.record(session, rt, who, "rights.code_sent", row, details={"code_id": code_id, "expires_at": (now + r.code_ttl).isoformat()})
    return delivered.masked_to


def _fail(session: Session, rt: Runtime, who: Principal, row: RightsRequestRow, rule: str, message: str) -> VerificationFailed:
    service.record(session, rt, who, "rights.verify", row, decision="deny", rule_id=rule)
    return VerificationFailed(message, reason=rule)


def confirm_code(session: Session, rt: Runtime, who: Principal, request_id: str, code: str) -> service.RequestView:
    """Check a code; on success the request is verified and opens (its deadline already runs)."""
    row = service.load(session, request_id)
    _may_verify(session, rt, who, row)
    r = service.rules(rt)
    now = rt.clock.now()
    presented = code.strip()
    codes = list(session.scalars(select(VerificationCodeRow).where(VerificationCodeRow.request_id == row.id)))
    if row.status != "unverified":
        # A code for a request that is verified already is a replay, whoever sends it.
        raise _fail(session, rt, who, row, "code-replayed", "this request is verified already; the code cannot be used again")
    live = [c for c in codes if c.used_at is None and c.expires_at > now]
    current = max(live, key=lambda c: c.created_at) if live else None
    for old in codes:
        if old is not current and constant_time_equal(_digest(rt, old.id, row.id, presented), old.digest):
            raise _fail(session, rt, who, row, "code-expired-or-used", "this code has expired or was replaced; ask for a new one")
    if current is None:
        raise _fail(session, rt, who, row, "no-live-code", "no code is waiting; ask for a new one")
    if current.attempts >= r.code_max_attempts:
        raise _fail(session, rt, who, row, "attempts-exhausted", "too many wrong codes; ask for a new one")
    current.attempts += 1
    if not (presented.isdigit() and constant_time_equal(_digest(rt, current.id, row.id, presented), current.digest)):
        if current.attempts >= r.code_max_attempts:
            current.expires_at = now
        raise _fail(session, rt, who, row, "code-wrong", f"the code is wrong ({r.code_max_attempts - current.attempts} attempts left)")
    current.used_at = now
    row.status = "open"
    row.verified_at = now
    row.verified_by = "code"
    service.record(session, rt, who, "rights.verify", row, decision="allow", rule_id="code", details={"code_id": current.id})
    return service.view_of(row)
