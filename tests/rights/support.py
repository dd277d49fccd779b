"""Helpers for the rights tests: a borrower with a signed-in portal session, staff, the outbox."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from lendshield.accounts import borrowers
from lendshield.accounts import service as accounts
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


def person(rt: Runtime, mobile: str = "13812345678", born: date | None = None) -> Person:
    """A borrower in the vault with a portal account, signed in."""
    overrides = {"mobile": mobile}
    if born is not None:
        overrides["resident_id"] = gs.resident_id_born(born)
    sid = gs.borrower(rt, **overrides)
    phone = f"+86{mobile}"
    with rt.sessions() as session:
        account_id = accounts.create_borrower_account(
            session, rt, None, subject_id=sid, phone_e164=phone, password=PASSWORD, person=PersonalData()
        )
        session.commit()
    with rt.sessions() as session:
        challenge = borrowers.begin_sign_in(session, rt, phone=phone, password=PASSWORD, client_addr="198.51.100.7")
        session.commit()
    with rt.sessions() as session:
        signed = borrowers.finish_sign_in(session, rt, challenge=challenge.token, code=last_code(rt, sid), client_addr="198.51.100.7")
        session.commit()
    return Person(sid, account_id, signed.session_token, signed.csrf_token)


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
