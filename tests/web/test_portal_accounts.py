"""Portal registration and password reset over HTTP, and "did this call really come from us?".

Registration and reset run on the shipped policy plus the ``credential_check`` purpose (see
``tests/accounts/credential_policy.py``), which the password check needs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from lendshield.accounts.models import AccountRow
from lendshield.crypto import LocalKeyFile
from lendshield.runtime import Runtime
from lendshield.settings import Settings
from lendshield.subjects import service as subjects
from lendshield.web.app import create_app
from lendshield.web.portal import SESSION_COOKIE
from tests.accounts.credential_policy import with_credential_check
from tests.web.portal_helpers import PASSWORD, Person, csrf_of, make_borrower, new_code, outbox_codes, sign_in

PHONE = "13912345678"


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    data = tmp_path / "data"
    data.mkdir()
    LocalKeyFile.create(data / "keys.json")
    policies = with_credential_check(Settings().policies_dir, tmp_path / "policies")
    return Settings(environment="test", data_dir=data, database_url=db_url, policies_dir=policies)


@pytest.fixture
def web(rt: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime=rt), base_url="https://testserver", raise_server_exceptions=False) as c:
        yield c


def _subject(rt: Runtime, make_actor) -> str:  # type: ignore[no-untyped-def]
    writer = make_actor("loan_system")
    with rt.sessions() as session:
        sid, _ = subjects.create_subject(
            session, rt, writer.principal, kind="borrower", fields={"name": "王芳", "mobile": PHONE, "resident_id": "11010519491231002X"}
        )
        session.commit()
    return sid


def _start(web: TestClient, flow: str, phone: str) -> str:
    page = web.get(f"/portal/{flow}?lang=en")
    resp = web.post(f"/portal/{flow}", data={"phone": phone, "csrf": csrf_of(page.text)}, follow_redirects=False)
    assert resp.status_code == 303
    assert resp.headers["location"] == f"/portal/{flow}/finish"
    return web.get(f"/portal/{flow}/finish").text


def test_register_over_http_then_sign_in(rt: Runtime, make_actor, web: TestClient) -> None:  # type: ignore[no-untyped-def]
    sid = _subject(rt, make_actor)
    before = outbox_codes(rt, sid)
    page = _start(web, "register", PHONE)
    assert "If the number is ours" in page
    code = new_code(rt, sid, before)
    weak = web.post(
        "/portal/register/finish", data={"code": code, "password": "Wf!19491231x", "confirm": "Wf!19491231x", "csrf": csrf_of(page)}
    )
    assert weak.status_code == 422
    assert "birth date" in weak.text
    done = web.post(
        "/portal/register/finish",
        data={"code": code, "password": PASSWORD, "confirm": PASSWORD, "csrf": csrf_of(page)},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/portal/login?done=registered"
    with rt.sessions() as session:
        account = session.scalars(select(AccountRow).where(AccountRow.subject_id == sid)).one()
    sign_in(web, rt, Person(sid, account.id, PHONE))
    assert web.get("/portal/data").status_code == 200


def test_unknown_and_known_numbers_get_the_same_answer(rt: Runtime, make_actor, web: TestClient) -> None:  # type: ignore[no-untyped-def]
    _subject(rt, make_actor)
    known = _start(web, "reset", PHONE)
    unknown = _start(web, "reset", "13800138000")
    strip = re.compile(r'value="[^"]*"')
    assert strip.sub("", known) == strip.sub("", unknown)
    # And finishing either with a guess fails the same way.
    for page in (known, unknown):
        resp = web.post("/portal/reset/finish", data={"code": "123456", "password": PASSWORD, "confirm": PASSWORD, "csrf": csrf_of(page)})
        assert resp.status_code == 401


def test_reset_over_http_ends_old_sessions(rt: Runtime, make_actor, web: TestClient) -> None:  # type: ignore[no-untyped-def]
    person = make_borrower(rt, make_actor, phone=PHONE)
    sign_in(web, rt, person)
    old = web.cookies.get(SESSION_COOKIE)
    before = outbox_codes(rt, person.subject_id)
    page = _start(web, "reset", PHONE)
    new = "Maple-Harbor-58#"
    code = new_code(rt, person.subject_id, before)
    resp = web.post(
        "/portal/reset/finish", data={"code": code, "password": new, "confirm": new, "csrf": csrf_of(page)}, follow_redirects=False
    )
    assert resp.status_code == 303
    web.cookies.set(SESSION_COOKIE, old or "", domain="testserver", path="/portal")
    assert web.get("/portal/data", follow_redirects=False).status_code == 303
    sign_in(web, rt, person, password=new)


def test_check_whether_a_call_came_from_the_lender(rt: Runtime, make_actor, web: TestClient) -> None:  # type: ignore[no-untyped-def]
    from lendshield.collection import service as collection
    from lendshield.loans.service import LoanEvent
    from tests.policy import gate_support as gs

    person = make_borrower(rt, make_actor, phone=PHONE)
    collector = make_actor("collector", name="collector.zhou")
    gs.loan(
        rt,
        person.subject_id,
        "L-9",
        ("e1", LoanEvent(kind="overdue", overdue_days=35)),
        ("e2", LoanEvent(kind="assign", collector_id=collector.principal.id)),
    )
    with rt.sessions() as session:
        call = collection.start_contact(session, rt, collector.principal, "L-9", channel="call")
        session.commit()
    assert call.verification_code
    csrf = sign_in(web, rt, person)
    genuine = web.post("/portal/check?lang=en", data={"code": call.verification_code.lower(), "csrf": csrf})
    assert "Genuine" in genuine.text
    assert "collector.zhou" in genuine.text
    fake = web.post("/portal/check?lang=en", data={"code": "K7P2-9QXM", "csrf": csrf})
    assert "no record of this code" in fake.text
    assert web.post("/portal/check", data={"code": call.verification_code, "csrf": "forged"}).status_code == 403
