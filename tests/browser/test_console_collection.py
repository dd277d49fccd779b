"""In a real browser: a collector's message with a threat is blocked on the page, with the rule and
the refused words shown; a clean message goes through the bridge with a masked number (issue 9)."""

from __future__ import annotations

from pathlib import Path

import pyotp
import pytest
from sqlalchemy import func, select

from lendshield.accounts import service as accounts
from lendshield.clock import FrozenClock
from lendshield.collection.models import OutboxRow
from lendshield.loans.service import LoanEvent
from lendshield.runtime import Runtime
from lendshield.subjects import service as subjects
from tests.browser.console_login import sign_in
from tests.policy import gate_support as gs

PASSWORD = "Lantern-Orbit-93!"
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.mark.browser
def test_a_threat_is_blocked_on_the_page(rt: Runtime, clock: FrozenClock, make_actor, live_server: str, page) -> None:  # type: ignore[no-untyped-def]
    if rt.engine.dialect.name != "sqlite":
        pytest.skip("the browser walk-through runs once, on the embedded default")
    collector = make_actor("collector", name="collector.chen")
    with rt.sessions() as session:
        made = accounts.create_staff_account(
            session, rt, None, principal_id=collector.principal.id, username="collector.chen", password=PASSWORD
        )
        sid, _ = subjects.create_subject(
            session,
            rt,
            gs.LOADER,
            kind="borrower",
            fields={"name": "王五", "mobile": "13812345678"},
            synthetic=True,
            contacts=[subjects.NewContact(relation="配偶", fields={"name": "李四", "mobile": "13987654321"})],
        )
        session.commit()
    gs.loan(
        rt,
        sid,
        "L-77",
        ("e1", LoanEvent(kind="overdue", overdue_days=40)),
        ("e2", LoanEvent(kind="assign", collector_id=collector.principal.id)),
    )
    totp = pyotp.TOTP(made.totp_uri.split("secret=")[1].split("&")[0])

    sign_in(page, live_server, "collector.chen", PASSWORD, totp, clock)
    page.get_by_role("link", name="Collection").click()
    page.get_by_role("link", name="Contact").click()
    assert "138****5678" in page.content()
    assert "13812345678" not in page.content()

    box = page.get_by_label("Message text")
    box.fill("王先生，再不还钱我们就去你家门口堵你，后果自负！")
    live = page.locator("#screening")
    live.filter(has_text="threat-violence-zh").wait_for()  # live screening while typing
    page.get_by_role("button", name="Send through the bridge").click()
    alert = page.get_by_role("alert")
    assert "threat-violence-zh" in alert.inner_text()
    assert "后果自负" in alert.locator("mark").all_inner_texts()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "console-collection-blocked.png"), full_page=True)
    with rt.sessions() as session:
        assert session.scalar(select(func.count()).select_from(OutboxRow)) == 0  # nothing was sent

    page.get_by_label("Message text").fill("王先生您好，您的借款已逾期40天，请尽快还款；如有困难可申请分期。")
    page.get_by_role("button", name="Send through the bridge").click()
    assert "138****5678" in page.get_by_role("status").first.inner_text()
    with rt.sessions() as session:
        assert session.scalar(select(func.count()).select_from(OutboxRow)) == 1
