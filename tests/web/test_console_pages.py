"""The staff console's pages over HTTP (issue 9, item 2): each page for its role, a refusal per
page for a role that must not see it, forged CSRF tokens refused, text escaped, and a reveal that
writes its reason into the ledger entry of the read."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from lendshield.accounts import borrowers
from lendshield.accounts import service as accounts
from lendshield.clock import FrozenClock
from lendshield.crypto.passwords import Argon2Params, PasswordHashing
from lendshield.principals import Principal
from lendshield.rights import service as rights
from lendshield.rights.models import RightsRequestRow
from lendshield.runtime import Runtime
from lendshield.watch import alerts as watch
from lendshield.watch.models import AlertRow
from lendshield.web.app import create_app
from tests.web.portal_helpers import Person, make_borrower, new_code, outbox_codes

PASSWORD = "Lantern-Orbit-93!"
CSRF = re.compile(r'name="csrf" value="([^"]*)"')


@dataclass
class Desk:
    """A signed-in staff member's browser: its cookies and the session's CSRF token."""

    client: TestClient
    csrf: str
    principal_id: str


def staff_account(rt: Runtime, make_actor, role: str, username: str) -> pyotp.TOTP:  # type: ignore[no-untyped-def]
    actor = make_actor(role, name=username)
    with rt.sessions() as session:
        made = accounts.create_staff_account(session, rt, None, principal_id=actor.principal.id, username=username, password=PASSWORD)
        session.commit()
    totp = pyotp.TOTP(made.totp_uri.split("secret=")[1].split("&")[0])
    totp.principal_id = actor.principal.id  # type: ignore[attr-defined]
    return totp


def file_access_request(rt: Runtime, person: Person) -> str:
    """The borrower files an access request from the portal (verified by their session: open)."""
    with rt.sessions() as session:
        view = rights.file_request(session, rt, borrowers.portal_principal(person.account_id), request_type="access")
        session.commit()
    return view.id


def raise_alert(rt: Runtime, actor: str, title: str = "read many people") -> int:
    """An insider-watch alert as the rule engine raises it, with the actor's latest entries as evidence."""
    with rt.sessions() as session:
        seqs = {int(s) for s in session.execute(text("SELECT seq FROM ledger_entries ORDER BY seq DESC LIMIT 3")).scalars()}
        now = rt.clock.now()
        finding = watch.Finding(
            rule_id="subjects-per-hour",
            severity="medium",
            actor=actor,
            window_key=now.strftime("%Y%m%d%H"),
            title=title,
            measure=61,
            threshold=60,
            first_seen=now - timedelta(minutes=30),
            last_seen=now,
            seqs=seqs,
        )
        watch.record(session, rt, finding)
        session.commit()
        alert_id = session.scalars(text("SELECT id FROM watch_alerts ORDER BY id DESC LIMIT 1")).one()
    return int(alert_id)


@pytest.fixture(autouse=True)
def quick_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """A staff account costs 11 argon2id hashes at RFC 9106's 64 MiB x 3 (password and recovery
    codes) and ``accounts`` takes no parameters to inject; these tests are about the pages."""
    fast = PasswordHashing(Argon2Params(time_cost=1, memory_kib=8192, parallelism=1))
    monkeypatch.setattr(accounts, "_hashing", lambda: fast)


@pytest.fixture
def desks(rt: Runtime, clock: FrozenClock, make_actor) -> Iterator[dict[str, Desk]]:  # type: ignore[no-untyped-def]
    made = {role: staff_account(rt, make_actor, role, f"{role}.one") for role in ("protection_officer", "auditor", "collector", "admin")}
    out: dict[str, Desk] = {}
    app = create_app(runtime=rt)
    clients = []
    for role, totp in made.items():
        c = TestClient(app, base_url="https://testserver", raise_server_exceptions=False)
        c.__enter__()
        clients.append(c)
        resp = c.post(
            "/console/login",
            data={"username": f"{role}.one", "password": PASSWORD, "code": totp.at(clock.now())},
            follow_redirects=False,
        )
        assert resp.status_code == 303, resp.text
        page = c.get("/console")
        match = CSRF.search(page.text)
        assert match
        out[role] = Desk(c, match.group(1), totp.principal_id)  # type: ignore[attr-defined]
    yield out
    for c in clients:
        c.__exit__(None, None, None)


@pytest.fixture
def person(rt: Runtime, make_actor) -> Person:  # type: ignore[no-untyped-def]
    return make_borrower(rt, make_actor)


def test_dashboard_shows_each_role_its_work(rt: Runtime, desks: dict[str, Desk], person: Person) -> None:
    rid = file_access_request(rt, person)
    alert_id = raise_alert(rt, desks["collector"].principal_id)
    officer = desks["protection_officer"].client.get("/console")
    assert officer.status_code == 200
    assert f"/console/rights/{rid}" in officer.text
    assert f"/console/alerts/{alert_id}" in officer.text
    assert "Content-Security-Policy" in officer.headers
    collector = desks["collector"].client.get("/console?lang=en")
    assert collector.status_code == 200
    # Sections the role may not see are left out, not shown empty.
    assert f"/console/rights/{rid}" not in collector.text
    assert "Insider-watch alerts" not in collector.text
    assert desks["collector"].client.get("/console/nothing").status_code == 404


def test_signed_out_goes_to_sign_in(client: TestClient) -> None:
    for area in ("", "/subjects", "/rights", "/alerts", "/ledger", "/reports", "/incidents"):
        path = "/console" + area
        resp = client.get(path, follow_redirects=False)
        assert resp.status_code == 303, path
        assert resp.headers["location"] == "/console/login", path


def test_subject_page_masks_reveals_with_reason_and_refuses(rt: Runtime, desks: dict[str, Desk], person: Person) -> None:
    officer = desks["protection_officer"]
    page = officer.client.get(f"/console/subjects/{person.subject_id}?purpose=rights_request&lang=en")
    assert page.status_code == 200
    assert "139****5678" in page.text
    assert "13912345678" not in page.text
    assert "(clear text)" not in page.text

    reason = "<script>alert(1)</script> answering access request"
    resp = officer.client.post(
        f"/console/subjects/{person.subject_id}/reveal", data={"purpose": "rights_request", "reason": reason, "csrf": officer.csrf}
    )
    assert resp.status_code == 200
    assert "13912345678" in resp.text
    assert "&lt;b&gt;科技&lt;/b&gt;" in resp.text
    assert "<b>科技</b>" not in resp.text
    assert "<script>alert(1)</script>" not in resp.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in resp.text
    seq = int(re.search(r'data-ledger-seq="(\d+)"', resp.text).group(1))  # type: ignore[union-attr]
    with rt.sessions() as session:
        body = json.loads(session.execute(text("SELECT body FROM ledger_entries WHERE seq = :s"), {"s": seq}).scalar_one())
    assert body["reason"] == reason.strip()
    assert body["action"] == "subject.read"
    assert body["decision"] == "clear"

    no_reason = officer.client.post(
        f"/console/subjects/{person.subject_id}/reveal", data={"purpose": "rights_request", "reason": " ", "csrf": officer.csrf}
    )
    assert no_reason.status_code == 400
    assert "13912345678" not in no_reason.text

    # A collector on no loan of this person: the gate refuses, the page says which rule.
    collector = desks["collector"].client.get(f"/console/subjects/{person.subject_id}?purpose=collection&lang=en")
    assert collector.status_code == 200
    assert "collector-assigned" in collector.text
    assert "139****5678" not in collector.text
    # An administrator reads no one's data: no purpose, so the page is refused.
    assert desks["admin"].client.get(f"/console/subjects/{person.subject_id}").status_code == 403
    forged = officer.client.post(
        f"/console/subjects/{person.subject_id}/reveal", data={"purpose": "rights_request", "reason": reason, "csrf": "forged"}
    )
    assert forged.status_code == 403


def test_find_by_phone_is_posted_and_logged(rt: Runtime, desks: dict[str, Desk], person: Person) -> None:
    officer = desks["protection_officer"]
    resp = officer.client.post(
        "/console/subjects/find", data={"field": "mobile", "value": person.phone, "purpose": "rights_request", "csrf": officer.csrf}
    )
    assert resp.status_code == 200
    assert f"/console/subjects/{person.subject_id}" in resp.text
    with rt.sessions() as session:
        assert session.execute(text("SELECT count(*) FROM ledger_entries WHERE action = 'subject.lookup'")).scalar_one() == 1
    refused = desks["admin"].client.post(
        "/console/subjects/find", data={"field": "mobile", "value": person.phone, "purpose": "rights_request", "csrf": desks["admin"].csrf}
    )
    assert refused.status_code == 403
    forged = officer.client.post(
        "/console/subjects/find", data={"field": "mobile", "value": person.phone, "purpose": "rights_request", "csrf": ""}
    )
    assert forged.status_code == 403


def test_rights_pages_assign_extend_refuse_fulfil(rt: Runtime, desks: dict[str, Desk], person: Person) -> None:
    officer = desks["protection_officer"]
    first, second = file_access_request(rt, person), file_access_request(rt, person)
    queue = officer.client.get("/console/rights?lang=en")
    assert queue.status_code == 200
    assert first[:8] in queue.text
    assert second[:8] in queue.text

    def post(rid: str, step: str, **data: str) -> int:
        return officer.client.post(f"/console/rights/{rid}/{step}", data={"csrf": officer.csrf, **data}, follow_redirects=False).status_code

    assert post(first, "fulfil", csrf="forged") == 403  # forged token: nothing happens
    assert post(first, "assign") == 303
    assert post(first, "extend", working_days="5", reason="short") == 400  # a reason of 10+ characters
    assert post(first, "extend", working_days="5", reason="waiting for the archive <b>copy</b>") == 303
    detail = officer.client.get(f"/console/rights/{first}?done=extended&lang=en")
    assert "&lt;b&gt;copy&lt;/b&gt;" in detail.text
    assert "The deadline was extended" in detail.text
    assert post(first, "fulfil") == 303
    assert post(second, "refuse", reason="the same request was answered already") == 303
    with rt.sessions() as session:
        statuses = {r.id: r.status for r in session.query(RightsRequestRow)}
    assert statuses == {first: "fulfilled", second: "refused"}
    again = officer.client.post(f"/console/rights/{first}/fulfil", data={"csrf": officer.csrf})
    assert again.status_code == 409
    assert "cannot be fulfilled" in again.text

    auditor = desks["auditor"]
    assert auditor.client.get(f"/console/rights/{first}").status_code == 200
    assert auditor.client.post(f"/console/rights/{second}/assign", data={"csrf": auditor.csrf}).status_code == 403
    collector = desks["collector"]
    assert collector.client.get("/console/rights").status_code == 403
    assert collector.client.get(f"/console/rights/{first}").status_code == 403


def test_a_staff_filed_request_is_verified_by_code(rt: Runtime, desks: dict[str, Desk], person: Person) -> None:
    officer = desks["protection_officer"]
    who = Principal(id=officer.principal_id, name="officer", kind="staff", roles=frozenset({"protection_officer"}))
    with rt.sessions() as session:
        rid = rights.file_request(session, rt, who, request_type="access", subject_id=person.subject_id).id
        session.commit()
    before = outbox_codes(rt, person.subject_id)
    sent = officer.client.post(f"/console/rights/{rid}/verification", data={"csrf": officer.csrf})
    assert sent.status_code == 200
    assert "139****5678" in sent.text
    wrong = officer.client.post(f"/console/rights/{rid}/verification/confirm", data={"code": "000000", "csrf": officer.csrf})
    assert wrong.status_code == 403
    code = new_code(rt, person.subject_id, before)
    resp = officer.client.post(
        f"/console/rights/{rid}/verification/confirm", data={"code": code, "csrf": officer.csrf}, follow_redirects=False
    )
    assert resp.status_code == 303
    with rt.sessions() as session:
        assert session.get(RightsRequestRow, rid).status == "open"  # type: ignore[union-attr]
        denied = session.execute(text("SELECT count(*) FROM ledger_entries WHERE action = 'rights.verify'")).scalar_one()
    assert denied == 2  # the wrong code and the right one


def test_alert_pages_show_evidence_and_resolve(rt: Runtime, desks: dict[str, Desk], person: Person) -> None:
    officer = desks["protection_officer"]
    alert_id = raise_alert(rt, desks["collector"].principal_id, title="<script>x</script> many reads")
    listing = officer.client.get("/console/alerts")
    assert listing.status_code == 200
    assert f"/console/alerts/{alert_id}" in listing.text
    assert "<script>x</script>" not in listing.text
    detail = officer.client.get(f"/console/alerts/{alert_id}?lang=en")
    assert detail.status_code == 200
    assert detail.text.count('href="/console/ledger?seq=') == 3
    assert officer.client.post(f"/console/alerts/{alert_id}/resolve", data={"note": "checked", "csrf": "x"}).status_code == 403
    resp = officer.client.post(
        f"/console/alerts/{alert_id}/acknowledge", data={"note": "looking into it", "csrf": officer.csrf}, follow_redirects=False
    )
    assert resp.status_code == 303
    resp = officer.client.post(f"/console/alerts/{alert_id}/resolve", data={"note": "work of the day", "csrf": officer.csrf})
    assert resp.status_code == 200
    assert "work of the day" in resp.text
    with rt.sessions() as session:
        assert session.get(AlertRow, alert_id).status == "resolved"  # type: ignore[union-attr]
    auditor = desks["auditor"]
    assert auditor.client.get(f"/console/alerts/{alert_id}").status_code == 200
    assert auditor.client.post(f"/console/alerts/{alert_id}/acknowledge", data={"note": "n", "csrf": auditor.csrf}).status_code == 403
    assert desks["collector"].client.get("/console/alerts").status_code == 403
    assert desks["collector"].client.get(f"/console/alerts/{alert_id}").status_code == 403


def test_ledger_search(rt: Runtime, desks: dict[str, Desk], person: Person) -> None:
    auditor = desks["auditor"]
    page = auditor.client.get("/console/ledger?action=subject.*")
    assert page.status_code == 200
    assert "subject.create" in page.text
    assert "/v1/ledger/checkpoint" in page.text
    assert "王芳" not in page.text
    assert person.phone not in page.text
    by_seq = auditor.client.get("/console/ledger?seq=0")
    assert by_seq.status_code == 200
    assert by_seq.text.count("<tr>") == 2
    window = auditor.client.get("/console/ledger?since=2026-11-23T01:00&until=2026-11-23T03:00&actor=nobody")
    assert window.status_code == 200
    assert "subject.create" not in window.text
    assert auditor.client.get("/console/ledger?since=yesterday").status_code == 422
    assert desks["collector"].client.get("/console/ledger").status_code == 403


def test_reports(rt: Runtime, desks: dict[str, Desk]) -> None:
    officer = desks["protection_officer"]
    assert officer.client.get("/console/reports").status_code == 200
    made = officer.client.post("/console/reports/compliance", data={"csrf": officer.csrf})
    assert made.status_code == 200
    assert "credit_assessment" in made.text
    listing = desks["auditor"].client.get("/console/reports?start=2026-11-01&end=2026-11-30")
    assert listing.status_code == 200
    assert "/console/reports/1" in listing.text
    assert 'id="on-time"' in listing.text
    assert desks["auditor"].client.get("/console/reports/1").status_code == 200
    assert officer.client.post("/console/reports/compliance", data={"csrf": "forged"}).status_code == 403
    assert desks["collector"].client.get("/console/reports").status_code == 403
    assert desks["collector"].client.get("/console/reports/1").status_code == 403


def test_chinese_is_the_default(desks: dict[str, Desk]) -> None:
    page = desks["protection_officer"].client.get("/console/rights?lang=zh_CN")
    assert "个人信息权利请求" in page.text or "权利请求" in page.text


def test_incident_pages(rt: Runtime, clock: FrozenClock, desks: dict[str, Desk], person: Person, make_actor) -> None:  # type: ignore[no-untyped-def]
    """The protection officer handles a breach from the console (PIPL Art. 57): opens it, finds who
    was affected from the ledger, reads the drafted notices and records each one sent."""
    from lendshield.ops.models import IncidentRow
    from lendshield.subjects import service as subjects

    officer = desks["protection_officer"]
    start = clock.now() - timedelta(minutes=1)
    with rt.sessions() as session:
        reader = make_actor("loan_system").principal
        subjects.read_fields(session, rt, reader, person.subject_id, ["name", "mobile"], purpose="loan_servicing", reason=None)
        session.commit()
    facts = {
        "title": "<b>Laptop</b> stolen",
        "cause": "a laptop with a session was stolen",
        "harm": "nuisance calls",
        "remedies": "sessions revoked",
        "advice": "ignore calls asking for payment",
        "contact": "dpo@lender.example",
    }
    listing = officer.client.get("/console/incidents?lang=en")
    assert listing.status_code == 200
    assert "No incident has been opened." in listing.text
    missing = officer.client.post("/console/incidents", data=facts | {"cause": " ", "csrf": officer.csrf})
    assert missing.status_code == 422
    assert "cause: required" in missing.text
    assert ">nuisance calls</textarea>" in missing.text  # the form comes back filled in, escaped
    assert 'value="&lt;b&gt;Laptop&lt;/b&gt; stolen"' in missing.text
    assert officer.client.post("/console/incidents", data=facts | {"csrf": "forged"}).status_code == 403
    opened = officer.client.post("/console/incidents", data=facts | {"csrf": officer.csrf}, follow_redirects=False)
    assert opened.status_code == 303
    url = opened.headers["location"].partition("?")[0]
    incident_id = url.rsplit("/", 1)[1]

    page = officer.client.get(f"{url}?lang=en")
    assert page.status_code == 200
    assert "<b>Laptop</b>" not in page.text  # escaped
    assert "No one has been found affected yet." in page.text
    until = (clock.now() + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M")
    bad_window = officer.client.post(f"{url}/scope", data={"start": until, "end": until, "csrf": officer.csrf})
    assert bad_window.status_code == 422
    assert "the window must end after it starts" in bad_window.text
    scoped = officer.client.post(
        f"{url}/scope", data={"start": start.strftime("%Y-%m-%dT%H:%M"), "end": until, "csrf": officer.csrf}, follow_redirects=False
    )
    assert scoped.status_code == 303
    page = officer.client.get(f"{url}?lang=en&done=scoped")
    assert re.search(r'id="affected">1<', page.text)
    assert "Contact details" in page.text  # the regulator's notice names the categories
    assert person.phone not in page.text
    assert "王芳" not in page.text
    ref = re.search(r'name="subject_ref" value="([0-9a-f]{64})"', page.text)
    assert ref

    assert officer.client.post(f"{url}/notified", data={"channel": "pigeon", "csrf": officer.csrf}).status_code == 422
    told = officer.client.post(f"{url}/notified", data={"channel": "cac-portal", "csrf": officer.csrf}, follow_redirects=False)
    assert told.status_code == 303
    person_told = officer.client.post(
        f"{url}/notified", data={"channel": "sms", "subject_ref": ref.group(1), "csrf": officer.csrf}, follow_redirects=False
    )
    assert person_told.status_code == 303
    again = officer.client.post(f"{url}/notified", data={"channel": "letter", "csrf": officer.csrf})
    assert again.status_code == 409
    assert "already notified" in again.text
    page = officer.client.get(f"{url}?lang=en")
    assert re.search(r'id="people-notified">1<', page.text)
    assert "cac-portal" in re.search(r'id="regulator-notified">([^<]*)<', page.text).group(1)  # type: ignore[union-attr]
    assert 'id="regulator-form"' not in page.text
    with rt.sessions() as session:
        incident = session.get(IncidentRow, incident_id)
        assert incident is not None
        assert incident.regulator_channel == "cac-portal"
        actions = list(session.scalars(text("SELECT action FROM ledger_entries WHERE action LIKE 'incident.%' ORDER BY seq")))
    assert actions == ["incident.open", "incident.scope", "incident.notify", "incident.notify"]
    listing = officer.client.get("/console/incidents")
    assert f"/console/incidents/{incident_id}" in listing.text
    assert 'href="/console/incidents"' in listing.text  # the officer's nav
    late = officer.client.post("/console/incidents", data=facts | {"title": "older", "csrf": officer.csrf}, follow_redirects=False)
    late_id = late.headers["location"].partition("?")[0].rsplit("/", 1)[1]
    with rt.sessions() as session:  # opened four days ago, the regulator not told: past the 72-hour deadline
        row = session.get(IncidentRow, late_id)
        assert row is not None
        row.opened_at = clock.now() - timedelta(hours=96)
        session.commit()
    listing = officer.client.get("/console/incidents?lang=en")
    assert listing.text.count("overdue since") == 1
    assert "overdue since" in officer.client.get(f"/console/incidents/{late_id}?lang=en").text
    dashboard = officer.client.get("/console?lang=en").text
    assert "Incidents with notices to send" in dashboard
    assert f"/console/incidents/{late_id}" in dashboard  # the regulator is not told yet, and it is late
    assert "regulator notice overdue" in dashboard
    assert f"/console/incidents/{incident_id}" not in dashboard  # every notice of this one was sent
    assert "Incidents with notices to send" not in desks["auditor"].client.get("/console?lang=en").text

    for role in ("auditor", "collector", "admin"):
        desk = desks[role]
        assert desk.client.get("/console/incidents").status_code == 403
        assert desk.client.get(url).status_code == 403
        assert desk.client.post(f"{url}/notified", data={"channel": "sms", "csrf": desk.csrf}).status_code == 403
        assert desk.client.post("/console/incidents", data=facts | {"csrf": desk.csrf}).status_code == 403
        assert 'href="/console/incidents"' not in desk.client.get("/console").text
    assert officer.client.get("/console/incidents/00000000-0000-0000-0000-000000000000").status_code == 404
