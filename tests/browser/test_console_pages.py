"""In a real browser, at phone width: the protection officer goes from the dashboard to a rights
request and fulfils it, reveals a person's data with a written reason, and resolves an
insider-watch alert with a note (issue 9, item 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from lendshield.clock import FrozenClock
from lendshield.rights.models import RightsRequestRow
from lendshield.runtime import Runtime
from lendshield.watch.models import AlertRow
from tests.browser.console_login import sign_in
from tests.web.portal_helpers import make_borrower
from tests.web.test_console_pages import PASSWORD, file_access_request, quick_hashing, raise_alert, staff_account

__all__ = ["quick_hashing"]  # the autouse fixture: fast password hashing for the accounts made here
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.mark.browser
def test_officer_fulfils_reveals_and_resolves(rt: Runtime, clock: FrozenClock, make_actor, live_server: str, page) -> None:  # type: ignore[no-untyped-def]
    if rt.engine.dialect.name != "sqlite":
        pytest.skip("the browser walk-through runs once, on the embedded default")
    totp = staff_account(rt, make_actor, "protection_officer", "officer.sun")
    person = make_borrower(rt, make_actor)
    rid = file_access_request(rt, person)
    alert_id = raise_alert(rt, make_actor("collector").principal.id)
    SHOTS.mkdir(parents=True, exist_ok=True)

    sign_in(page, live_server, "officer.sun", PASSWORD, totp, clock)
    assert page.get_by_role("heading", name="Rights requests").is_visible()
    page.screenshot(path=str(SHOTS / "console-dashboard.png"), full_page=True)

    # Dashboard -> the request -> fulfil.
    page.locator(f'a[href="/console/rights/{rid}"]').first.click()
    page.wait_for_url(f"{live_server}/console/rights/{rid}")
    page.screenshot(path=str(SHOTS / "console-rights.png"), full_page=True)
    page.get_by_role("button", name="Fulfil the request").click()
    assert "carried out" in page.get_by_role("status").inner_text()
    assert page.locator("#status").inner_text() == "fulfilled"
    with rt.sessions() as session:
        assert session.get(RightsRequestRow, rid).status == "fulfilled"  # type: ignore[union-attr]

    # The person's page: masked through the gate, then a reveal with a reason.
    page.get_by_role("link", name=person.subject_id).click()
    page.get_by_role("button", name="Show masked").click()
    assert "139****5678" in page.locator("#masked-h + table").inner_text()
    reveal = page.locator("section.card", has=page.get_by_role("heading", name="Ask for clear text"))
    reveal.get_by_label("Purpose").select_option("rights_request")
    reveal.get_by_label("Why you need the clear text").fill("Checking the access package before it is sent")
    reveal.get_by_role("button", name="Reveal").click()
    assert "13912345678" in page.locator("#reveal-result").inner_text()
    page.screenshot(path=str(SHOTS / "console-subject.png"), full_page=True)
    seq = int(page.locator("[data-ledger-seq]").get_attribute("data-ledger-seq") or "-1")
    with rt.sessions() as session:
        body = json.loads(session.execute(text("SELECT body FROM ledger_entries WHERE seq = :s"), {"s": seq}).scalar_one())
    assert body["reason"] == "Checking the access package before it is sent"

    # Alerts -> the alert -> resolve with a note.
    page.get_by_role("link", name="Alerts", exact=True).click()
    page.locator(f'a[href="/console/alerts/{alert_id}"]').click()
    page.get_by_label("Note: what was done or found").fill("Bulk reading was the month-end review; confirmed with the supervisor")
    page.get_by_role("button", name="Resolve").click()
    assert page.locator("#alert-status").inner_text() == "resolved"
    assert "month-end review" in page.content()
    with rt.sessions() as session:
        assert session.get(AlertRow, alert_id).status == "resolved"  # type: ignore[union-attr]


@pytest.mark.browser
def test_officer_opens_an_incident_and_records_the_notices(rt: Runtime, clock: FrozenClock, make_actor, live_server: str, page) -> None:  # type: ignore[no-untyped-def]
    """A breach handled from the console at phone width (PIPL Art. 57): open, scope, notify."""
    if rt.engine.dialect.name != "sqlite":
        pytest.skip("the browser walk-through runs once, on the embedded default")
    from datetime import timedelta

    from lendshield.subjects import service as subjects

    totp = staff_account(rt, make_actor, "protection_officer", "officer.li")
    person = make_borrower(rt, make_actor)
    with rt.sessions() as session:
        reader = make_actor("loan_system").principal
        subjects.read_fields(session, rt, reader, person.subject_id, ["name", "mobile"], purpose="loan_servicing", reason=None)
        session.commit()
    SHOTS.mkdir(parents=True, exist_ok=True)

    sign_in(page, live_server, "officer.li", PASSWORD, totp, clock)
    page.get_by_role("navigation").get_by_role("link", name="Incidents", exact=True).click()
    page.wait_for_url(f"{live_server}/console/incidents")
    page.get_by_label("Title").fill("Collector laptop stolen")
    page.get_by_label("Cause").fill("a laptop with an open console session was stolen")
    page.get_by_label("Possible harm").fill("masked phone numbers and names may be used for nuisance calls")
    page.get_by_label("Remedial measures taken").fill("sessions revoked, laptop wiped")
    page.get_by_label("What people can do").fill("ignore calls asking for payment outside the official app")
    page.get_by_label("Contact").fill("dpo@lender.example")
    page.get_by_role("button", name="Open the incident").click()
    assert page.get_by_role("status").inner_text() == "The incident was opened."

    page.get_by_label("From").fill((clock.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Until").fill((clock.now() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Add the affected people").click()
    assert page.get_by_role("status").inner_text() == "The affected people were added."
    assert page.locator("#affected").inner_text() == "1"
    assert "Collector laptop stolen" in page.locator("#regulator-zh").inner_text()

    page.locator("#regulator-channel").select_option("cac-portal")
    page.get_by_role("button", name="Record the regulator as notified").click()
    assert "cac-portal" in page.locator("#regulator-notified").inner_text()
    page.get_by_role("button", name="Record as sent").click()
    assert page.locator("#people-notified").inner_text() == "1"
    assert person.phone not in page.content()
    page.screenshot(path=str(SHOTS / "console-incident.png"), full_page=True)
