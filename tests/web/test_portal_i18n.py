"""Every string the portal shows has a Simplified Chinese translation (the default language)."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract
from babel.messages.pofile import read_po

from lendshield.web import portal_common, portal_views
from lendshield.web.i18n import LOCALE_DIR

WEB = Path(portal_common.__file__).resolve().parent


def _catalog() -> dict[str, object]:
    with (LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalog = read_po(fh, locale="zh_CN")
    return {(m.id if isinstance(m.id, str) else m.id[0]): m.string for m in catalog if m.id}


def _template_ids() -> set[str]:
    out: set[str] = set()
    for path in [*sorted((WEB / "templates" / "portal").glob("*.html")), WEB / "templates" / "error.html"]:
        with path.open("rb") as fh:
            for _line, msg, _comments, _ctx in extract("jinja2.ext:babel_extract", fh, keywords={"_": None, "ngettext": (1, 2)}):
                out.add(msg if isinstance(msg, str) else msg[0])
    return out


def _code_ids() -> set[str]:
    out = set(portal_views.CATEGORIES.values()) | set(portal_views.ACTIONS.values()) | set(portal_views.DECISIONS.values())
    out |= set(portal_common.DONE.values()) | {portal_common.FORM_EXPIRED}
    for name in ("portal.py", "portal_auth.py", "portal_common.py", "portal_views.py"):
        text = (WEB / name).read_text(encoding="utf-8")
        out |= set(re.findall(r'\bt\("([^"]+)"\)', text))
        out |= set(re.findall(r'gettext_for\(request\)\("([^"]+)"\)', text))
        out |= set(re.findall(r'refuse_page\(request, (?:me|None), \d+, "([^"]+)"\)', text))
        out |= set(re.findall(r'gettext\("([^"]+)"\)', text))
    return out


def test_every_portal_string_is_translated() -> None:
    catalog = _catalog()
    wanted = _template_ids() | _code_ids()
    assert len(wanted) > 150
    missing = sorted(m for m in wanted if not catalog.get(m))
    assert missing == []


def test_password_problems_are_translated() -> None:
    from lendshield.accounts.password_policy import BORROWER_RULES, check_password

    problems = check_password("aaaa", BORROWER_RULES).problems + check_password("Wf!19491231x", BORROWER_RULES, None).problems
    catalog = _catalog()
    assert problems
    assert all(catalog.get(p) for p in problems)
