"""Building a borrower with an account and a marketing consent, and signing in over HTTP."""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi.testclient import TestClient

from lendshield.accounts import service as accounts
from lendshield.accounts.password_policy import PersonalData
from lendshield.collection.adapter import read_outbox
from lendshield.consent import service as consent
from lendshield.runtime import Runtime
from lendshield.subjects import service as subjects

PASSWORD = "River-Stone-71?"
CSRF = re.compile(r'name="csrf" value="([^"]*)"')


@dataclass
class Person:
    subject_id: str
    account_id: str
    phone: str


def make_borrower(rt: Runtime, make_actor, phone: str = "13912345678", name: str = "王芳", timezone: str = "Asia/Shanghai") -> Person:  # type: ignore[no-untyped-def]
    writer, officer, service = make_actor("loan_system"), make_actor("protection_officer"), make_actor("customer_service")
    with rt.sessions() as session:
        sid, _ = subjects.create_subject(
            session,
            rt,
            writer.principal,
            kind="borrower",
            fields={"name": name, "mobile": phone, "employer": "长城<b>科技</b>有限公司"},
            timezone=timezone,
        )
        notice = consent.ensure_default_notice(session, rt, officer.principal)
        consent.record(
            session, rt, service.principal, sid, purpose="marketing", action="grant", notice_version=notice.version, channel="app"
        )
        account = accounts.create_borrower_account(
            session, rt, None, subject_id=sid, phone_e164="+86" + phone, password=PASSWORD, person=PersonalData(name=name, phone=phone)
        )
        session.commit()
    return Person(sid, account, phone)


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "the page has no CSRF field"
    return match.group(1)


def outbox_codes(rt: Runtime, subject_id: str) -> dict[str, str]:
    with rt.sessions() as session:
        return {m.id: m.text for m in read_outbox(session, rt, subject_id)}


def new_code(rt: Runtime, subject_id: str, before: dict[str, str]) -> str:
    new = [t for mid, t in outbox_codes(rt, subject_id).items() if mid not in before]
    assert len(new) == 1
    match = re.search(r"\b(\d{6})\b", new[0])
    assert match
    return match.group(1)


def sign_in(client: TestClient, rt: Runtime, person: Person, password: str = PASSWORD) -> str:
    """Phone + password, then the code from the outbox. Returns the session's CSRF token."""
    page = client.get("/portal/login")
    before = outbox_codes(rt, person.subject_id)
    resp = client.post(
        "/portal/login", data={"phone": person.phone, "password": password, "csrf": csrf_of(page.text)}, follow_redirects=False
    )
    assert resp.status_code == 303, resp.text
    code = new_code(rt, person.subject_id, before)
    page = client.get("/portal/login/code")
    resp = client.post("/portal/login/code", data={"code": code, "csrf": csrf_of(page.text)}, follow_redirects=False)
    assert resp.status_code == 303
    assert resp.headers["location"] == "/portal/data"
    return csrf_of(client.get("/portal/data").text)
