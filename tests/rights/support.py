"""Helpers for the rights tests: a borrower with a signed-in portal session, staff, the outbox."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from lendshield.accounts import borrowers
from lendshield.accounts import service as accounts
from lendshield.accounts.models import AccountRow
from lendshield.accounts.password_policy import PersonalData
from lendshield.collection.adapter import read_outbox
from lendshield.ledger.models import LedgerEntryRow
from lendshield.runtime import Runtime
from tests.policy import gate_support as gs

PASSWORD = "Qz!8vLr#t2Wm"


@dataclass
class Person:
    subject_id: str
    account_id: str
    session_token: str
    csrf: str

    @property
    def headers(self) -> dict[str, str]:
        """The portal session as a cookie, with the CSRF token for state-changing calls."""
        return {"Cookie": f"ls_session={self.session_token}", "X-CSRF-Token": self.csrf}


def person(rt: Runtime, mobile: str = "13812345678", *, sign_in: bool = False) -> Person:
    """A borrower in the vault with a portal account and an open portal session.

    ``sign_in=True`` goes through the real two-step sign-in (password, then the code texted to
    the phone); otherwise the account gets an unusable password and a session is opened
    directly, which skips two argon2id computations per person.
    """
    sid = gs.borrower(rt, mobile=mobile)
    phone = f"+86{mobile}"
    if sign_in:
        with rt.sessions() as session:
            accounts.create_borrower_account(session, rt, None, subject_id=sid, phone_e164=phone, password=PASSWORD, person=PersonalData())
            challenge = borrowers.begin_sign_in(session, rt, phone=phone, password=PASSWORD, client_addr="198.51.100.7")
            session.commit()
        with rt.sessions() as session:
            signed = borrowers.finish_sign_in(session, rt, challenge=challenge.token, code=last_code(rt, sid), client_addr="198.51.100.7")
            session.commit()
        return Person(sid, signed.account_id, signed.session_token, signed.csrf_token)
    now = rt.clock.now()
    with rt.sessions() as session:
        account = AccountRow(
            id=str(uuid.uuid4()),
            kind="borrower",
            login_digest=accounts.login_digest(rt, "borrower", phone),
            principal_id=None,
            subject_id=sid,
            password_hash="!unusable",
            totp_sealed=None,
            totp_confirmed=False,
            totp_last_step=0,
            recovery_hashes=[],
            active=True,
            created_at=now,
            password_changed_at=now,
        )
        session.add(account)
        session.flush()
        signed = accounts.open_session(session, account, now)
        session.commit()
    return Person(sid, account.id, signed.session_token, signed.csrf_token)


def file(client: TestClient, headers: dict[str, str], request_type: str, **body: Any) -> dict[str, Any]:
    r = client.post("/v1/rights/requests", json={"type": request_type, **body}, headers=headers)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def last_code(rt: Runtime, subject_id: str) -> str:
    """The code the person received, read from the outbox (the stand-in for their phone)."""
    with rt.sessions() as session:
        messages = read_outbox(session, rt, subject_id)
    match = re.search(r"\d{6}", messages[-1].text)
    assert match is not None
    return match.group(0)


def entries(rt: Runtime, action: str) -> list[LedgerEntryRow]:
    with rt.sessions() as session:
        return list(session.scalars(select(LedgerEntryRow).where(LedgerEntryRow.action == action).order_by(LedgerEntryRow.seq)))


def problem(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    if code is not None:
        assert body["code"] == code, body
    return body
