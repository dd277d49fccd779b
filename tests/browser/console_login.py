"""Signing a staff member in to the console in a real browser (password and TOTP), for the walk-throughs."""

from __future__ import annotations

import pyotp

from lendshield.clock import FrozenClock


def sign_in(page, base: str, username: str, password: str, totp: pyotp.TOTP, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/console/login?lang=en")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_label("One-time code (authenticator app) or recovery code").fill(totp.at(clock.now()))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/console")
