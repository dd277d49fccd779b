"""Languages: Simplified Chinese by default, English on request. Babel catalogs compiled at start."""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES = ("zh_CN", "en")
DEFAULT = "zh_CN"


@cache
def translations(lang: str) -> NullTranslations:
    """Compile the .po catalog in memory (no build step); English is the source language."""
    folder = LOCALE_DIR / lang / "LC_MESSAGES"
    files = sorted(folder.glob("*.po")) if folder.is_dir() else []
    if lang == "en" or not files:
        return NullTranslations()
    # messages.po first, then each area's own catalog (console.po ...), merged into one.
    files.sort(key=lambda p: (p.name != "messages.po", p.name))
    with files[0].open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    for extra in files[1:]:
        with extra.open("rb") as fh:
            for message in read_po(fh, locale=lang):
                if message.id and message.id not in catalog:
                    catalog[message.id] = message
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(buf)


def choose(cookie: str | None, accept_language: str | None) -> str:
    if cookie in LANGUAGES:
        return cookie
    if accept_language and accept_language.lower().startswith("en"):
        return "en"
    return DEFAULT
