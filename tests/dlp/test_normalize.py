"""NFKC normalisation of full-width forms: the fast paths give unicodedata's answer."""

from __future__ import annotations

import random
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from lendshield.dlp.normalize import normalize

FULL_WIDTH = [chr(c) for c in range(0xFF01, 0xFF5F)]
# U+4EFF then U+0Cxx: in UTF-16-BE the bytes FF 0C straddle the two, as a full-width comma's would.
AROUND = ["\u3000", "仿", "\u0c0c", "\u0cff", "一", "借", "款", "人", "a", "1", " ", "\n"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(FULL_WIDTH[:30] + AROUND), max_size=400))
def test_full_width_forms_map_as_nfkc_maps_them(chars: list[str]) -> None:
    text = "".join(chars)
    assert normalize(text).text == unicodedata.normalize("NFKC", text)


def test_frequent_and_rare_forms_in_long_text() -> None:
    # A form seen more often than once in 800 characters is replaced throughout, a rarer one put
    # in place one by one: both in one text, and forms straddling two characters left alone.
    rng = random.Random(5)
    for _ in range(30):
        filler = "".join(rng.choice("借款人仿\u0c0c\u0cff一二三") for _ in range(rng.randint(800, 20000)))
        chars = list(filler)
        for _ in range(rng.randint(0, 60)):
            chars.insert(rng.randrange(len(chars)), "，")
        for _ in range(rng.randint(0, 5)):
            chars.insert(rng.randrange(len(chars)), rng.choice(FULL_WIDTH))
        text = "".join(chars)
        norm = normalize(text)
        assert norm.text == unicodedata.normalize("NFKC", text)
        assert norm.identity
