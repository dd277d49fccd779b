"""In a real browser: a borrower signs in (password + code from their phone), withdraws the
marketing consent, files a deletion request and verifies their timeline in the page, where the
page's own JavaScript checks every inclusion proof and the checkpoint signature (WebCrypto).
A tampered bundle fails the same check.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from lendshield.ledger import tree
from lendshield.principals import Principal
from lendshield.runtime import Runtime
from tests.web.portal_helpers import PASSWORD, Person, make_borrower, new_code, outbox_codes

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def _integrate(rt: Runtime) -> None:
    with rt.sessions() as session:
        tree.integrate(session, rt)
        session.commit()


def _sign_in(page, base: str, rt: Runtime, person: Person) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/portal/login")
    page.locator("#phone").fill(person.phone)
    page.locator("#password").fill(PASSWORD)
    before = outbox_codes(rt, person.subject_id)
    page.locator("main button[type=submit]").click()
    page.wait_for_url(f"{base}/portal/login/code")
    page.locator("#code").fill(new_code(rt, person.subject_id, before))  # read off the phone (the outbox)
    page.locator("main button[type=submit]").click()
    page.wait_for_url(f"{base}/portal/data")


ACCESSIBLE = """() => ({
  unlabelled: Array.from(document.querySelectorAll("input:not([type=hidden]), select, textarea"))
    .filter((e) => e.labels.length === 0 && !e.getAttribute("aria-label")).map((e) => e.name),
  unnamedButtons: Array.from(document.querySelectorAll("button"))
    .filter((b) => !(b.innerText.trim() || b.getAttribute("aria-label"))).length,
  h1: document.querySelectorAll("h1").length,
  lang: document.documentElement.lang,
  overflow: document.documentElement.scrollWidth - window.innerWidth,
  external: Array.from(document.querySelectorAll("script[src], link[href], img[src]"))
    .map((e) => e.src || e.href).filter((u) => !u.startsWith(location.origin)),
})"""


def _shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    # Each page: every field labelled, every button named, one h1, a language, no sideways
    # scrolling at phone width, nothing loaded from elsewhere.
    facts = page.evaluate(ACCESSIBLE)
    assert facts["unlabelled"] == [], name
    assert facts["unnamedButtons"] == 0, name
    assert facts["h1"] == 1, name
    assert facts["lang"] in ("zh-CN", "en"), name
    assert facts["overflow"] <= 0, name
    assert facts["external"] == [], name
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"portal-{name}.png"), full_page=True)


@pytest.mark.browser
def test_borrower_withdraws_files_and_verifies_in_the_browser(rt: Runtime, make_actor, live_server: str, page) -> None:  # type: ignore[no-untyped-def]
    if rt.engine.dialect.name != "sqlite":
        pytest.skip("the browser walk-through runs once, on the embedded default")
    from lendshield.consent import service as consent
    from lendshield.rights.models import RightsRequestRow

    person = make_borrower(rt, make_actor)
    page.goto(f"{live_server}/portal/login?lang=zh_CN")  # the default language, whatever the browser asks for
    _shot(page, "login-phone")
    _sign_in(page, live_server, rt, person)
    assert "139****5678" in page.locator("main table").inner_text()
    _shot(page, "data-phone")

    page.goto(f"{live_server}/portal/consents")
    page.locator("form:has(input[name=purpose][value=marketing]) button").click()
    page.wait_for_url("**/portal/consents?done=withdrawn")
    assert page.get_by_role("status").is_visible()
    officer = Principal(id="t", name="t", kind="staff", roles=frozenset({"protection_officer"}))
    with rt.sessions() as session:
        states = {s.purpose: s.action for s in consent.states(session, rt, officer, person.subject_id)}
    assert states["marketing"] == "withdraw"
    _shot(page, "consents-phone")

    page.goto(f"{live_server}/portal/requests")
    page.locator("#type").select_option("deletion")
    page.locator("#ground").select_option("consent_withdrawn")
    page.locator("section.card form button[type=submit]").click()
    page.wait_for_url("**/portal/requests?done=filed")
    with rt.sessions() as session:
        filed = session.scalars(select(RightsRequestRow)).one()
    assert filed.type == "deletion"
    assert filed.due_on.isoformat() in page.locator("li.request").inner_text()
    _shot(page, "requests-phone")

    _integrate(rt)
    page.goto(f"{live_server}/portal/timeline")
    rows = page.locator("tr[data-seq]")
    assert rows.count() >= 5
    assert page.locator("td.proof.verified").count() == 0  # nothing says "verified" before the check ran
    page.locator("#verify-button").click()
    page.wait_for_selector("#verify[data-result]")
    assert page.locator("#verify").get_attribute("data-result") == "verified", page.locator("#verify-status").inner_text()
    assert page.locator("td.proof.verified").count() == rows.count()
    status = page.locator("#verify-status").inner_text()
    assert "Ed25519" not in status  # Chromium checked the signature too (no fallback notice)
    actions = rows.evaluate_all("rs => rs.map(r => r.dataset.action)")
    assert {"consent.withdraw", "rights.file", "subject.read", "account.sign_in"} <= set(actions)
    _shot(page, "timeline-phone")

    page.set_viewport_size(DESKTOP)
    _shot(page, "timeline-desktop")
    page.goto(f"{live_server}/portal/requests?lang=en")
    _shot(page, "requests-desktop-en")
    page.goto(f"{live_server}/portal/data")
    _shot(page, "data-desktop-en")
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server}/portal/check?lang=zh_CN")
    page.locator("#code").fill("K7P2-9QXM")
    page.locator("main form button[type=submit]").click()
    assert page.locator("section.result").is_visible()
    _shot(page, "check-phone")
    page.goto(f"{live_server}/portal/report")
    _shot(page, "report-phone")


@pytest.mark.browser
def test_a_tampered_bundle_fails_in_the_browser(rt: Runtime, make_actor, live_server: str, page) -> None:  # type: ignore[no-untyped-def]
    if rt.engine.dialect.name != "sqlite":
        pytest.skip("runs once, on the embedded default")
    person = make_borrower(rt, make_actor)
    _sign_in(page, live_server, rt, person)
    _integrate(rt)

    def tamper(route) -> None:  # type: ignore[no-untyped-def]
        # A server (or anyone in between) that rewrites history: one entry's body changes.
        bundle = route.fetch().json()
        first = bundle["entries"][0]
        first["body"] = first["body"].replace('"action":"', '"action":"x', 1)
        route.fulfill(status=200, content_type="application/json", body=json.dumps(bundle))

    page.route("**/portal/timeline/bundle.json", tamper)
    page.goto(f"{live_server}/portal/timeline?lang=en")
    page.locator("#verify-button").click()
    page.wait_for_selector("#verify[data-result]")
    assert page.locator("#verify").get_attribute("data-result") == "failed"
    assert page.locator("td.proof.failed").count() >= 1
    assert "failed verification" in page.locator("#verify-status").inner_text()

    def forge_signature(route) -> None:  # type: ignore[no-untyped-def]
        # Same entries and proofs, but the checkpoint's root is swapped for another: the log's
        # Ed25519 signature over the note no longer verifies, so nothing may show as verified.
        bundle = route.fetch().json()
        origin, size, root, *rest = bundle["checkpoint"].split("\n")
        forged = base64.b64encode(hashlib.sha256(root.encode()).digest()).decode()
        bundle["checkpoint"] = "\n".join([origin, size, forged, *rest])
        route.fulfill(status=200, content_type="application/json", body=json.dumps(bundle))

    page.unroute("**/portal/timeline/bundle.json")
    page.route("**/portal/timeline/bundle.json", forge_signature)
    page.reload()
    page.locator("#verify-button").click()
    page.wait_for_selector("#verify[data-result]")
    assert page.locator("td.proof.verified").count() == 0
    assert "signature" in page.locator("#verify-status").inner_text()


@pytest.mark.browser
def test_a_bad_address_in_the_portal_is_a_page_not_json(rt: Runtime, live_server: str, page) -> None:  # type: ignore[no-untyped-def]
    """A hand-edited or stale link shows an error page with a way back, in the page's language."""
    if rt.engine.dialect.name != "sqlite":
        pytest.skip("the pages' error answers do not depend on the database")
    answer = page.goto(f"{live_server}/portal/no-such-page?lang=zh_CN")
    assert answer is not None
    assert answer.status == 404
    assert page.get_by_role("heading", name="页面不存在").is_visible()
    page.get_by_role("link", name="English").click()
    assert page.get_by_role("heading", name="Page not found").is_visible()
    page.get_by_role("link", name="Back").click()
    page.wait_for_url(f"{live_server}/portal/login")
