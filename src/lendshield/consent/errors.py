"""Consent errors: each names what is wrong, never a person's data."""

from __future__ import annotations

import re

from lendshield.errors import Conflict, Forbidden, InvalidInput, NotFound, TooManyRequests


class UnknownPurpose(NotFound):
    code = "unknown-purpose"

    def __init__(self, purpose: str) -> None:
        shown = purpose if re.fullmatch(r"[a-z][a-z0-9_]{0,63}", purpose) else "(not a purpose name)"
        super().__init__(f"no such purpose '{shown}'", purpose=shown)


class UnknownNotice(NotFound):
    code = "unknown-notice"

    def __init__(self, version: str) -> None:
        super().__init__(f"no published notice with version '{version[:32]}'", notice_version=version[:32])


class NoticeIncomplete(InvalidInput):
    """PIPL Art. 17: a notice must tell all of it, in every language shown."""

    code = "notice-incomplete"


class NoticeExists(Conflict):
    code = "notice-exists"

    def __init__(self, version: str) -> None:
        super().__init__(f"notice version '{version}' is already published; notices are never changed, publish a new version")


class ConsentNotApplicable(InvalidInput):
    code = "consent-not-applicable"


class ConsentNotGiven(Conflict):
    code = "consent-not-given"


class GuardianRequired(Forbidden):
    """PIPL Art. 31: under 14, a parent's or guardian's consent."""

    code = "guardian-required"


class PromptLimit(TooManyRequests):
    code = "consent-prompt-limit"
