"""The hyperscan engine's shadows (ASCII, UTF-16) and its UTF-8 fallback find what ``re`` finds."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime

import pytest

from lendshield.clock import FrozenClock
from lendshield.dlp import Scanner
from lendshield.dlp import synthetic as syn
from lendshield.dlp.engines import hyperscan_available
from lendshield.dlp.patterns import is_ascii_source, pattern_specs, utf16_source
from tests.dlp.corpus import mixed_corpus

needs_hyperscan = pytest.mark.skipif(not hyperscan_available(), reason="hyperscan is not installed on this platform")
CLOCK = FrozenClock(datetime(2026, 11, 23, tzinfo=UTC))


def both(text: str) -> tuple[list[object], list[object]]:
    return Scanner(engine="hyperscan", clock=CLOCK).scan(text), Scanner(engine="re", clock=CLOCK).scan(text)


def _awkward_lines(rng: random.Random) -> list[str]:
    """Values next to question marks, plates in every form, Latin letters and digits among
    Chinese: what the ASCII shadow and the UTF-16 form must get exactly right."""
    lines = []
    for _ in range(200):
        m, rid, card = syn.mobile(rng), syn.resident_id(rng), syn.bank_card(rng)
        lines.append(
            f"?{m}? 问号{rid}?卡号?{card} 车牌京A·{rng.randrange(10**5):05d}，粤B{rng.randrange(10**5):05d}D 沪AD{rng.randrange(10**5):05d}"
        )
        lines.append(
            f"订单SKU{m}A 地址：北京市朝阳区建国路{rng.randrange(1, 300)}号 借款人：王五，联系人?李四 E{rng.randrange(10**8):08d}护照"
        )
        lines.append(
            f"ip ::1 fe80::1%? 版本1.2.3.4.5 登录 10.0.{rng.randrange(256)}.{rng.randrange(256)} 邮箱 a{rng.randrange(99)}@例子.com x@y.cn"
        )
    return lines


@needs_hyperscan
def test_shadow_passes_find_what_re_finds() -> None:
    rng = random.Random(11)
    text = mixed_corpus(rng, lines=300) + "\n".join(_awkward_lines(rng))
    hs, rx = both(text)
    assert len(hs) > 3000
    assert hs == rx


@needs_hyperscan
def test_text_outside_the_bmp_is_scanned_as_utf8_and_finds_the_same() -> None:
    rng = random.Random(12)
    # An emoji is two UTF-16 units: the shadows' offsets would be wrong, so UTF-8 is scanned.
    text = "\n".join(f"😀{line}🀄" for line in _awkward_lines(rng)) + mixed_corpus(rng, lines=100).replace("，", "，𠀀")
    hs, rx = both(text)
    assert len(hs) > 1000
    assert hs == rx
    for f in hs:
        assert text[f.start : f.end] == f.value  # type: ignore[attr-defined]


@needs_hyperscan
def test_utf16_forms_report_every_start_python_finds() -> None:
    import hyperscan

    rng = random.Random(13)
    text = "\n".join(_awkward_lines(rng)) + mixed_corpus(rng, lines=200)
    wide = text.encode("utf-16-le")
    for spec in pattern_specs():
        if is_ascii_source(spec):
            continue
        db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        db.compile(expressions=[utf16_source(spec)], ids=[0], elements=1, flags=[hyperscan.HS_FLAG_SOM_LEFTMOST])
        starts: set[int] = set()
        db.scan(wide, match_event_handler=lambda _i, start, _end, _f, found: found.add(start), context=starts)
        expected = {m.start() for m in re.finditer(spec.anchor or spec.source, text)}
        assert expected, spec.name
        assert {2 * s for s in expected} <= starts, spec.name


def test_context_next_to_a_dotted_capital_i_is_what_the_pattern_says() -> None:
    # Case-insensitive matching takes İ (U+0130) for an i, lower-casing makes it two characters:
    # the scanner asks the pattern wherever the window holds one.
    for engine in ("re", "hyperscan") if hyperscan_available() else ("re",):
        scanner = Scanner(engine=engine, clock=CLOCK)
        [finding] = scanner.scan("İP 10.1.2.3")
        assert finding.type == "ipv4"
        assert finding.context
        [plain] = scanner.scan("XP 10.1.2.3")
        assert not plain.context


def test_an_international_prefix_with_no_country_is_no_landline_and_no_error() -> None:
    scanner = Scanner(engine="re", clock=CLOCK)
    assert [f.type for f in scanner.scan("电话 0099-1234567，传真 009-91234567")] == []


def _all_digit_uscc(rng: random.Random) -> str:
    from stdnum.cn import uscc

    while True:
        body = "91" + rng.choice(syn.AREA_CODES) + "".join(rng.choice("0123456789") for _ in range(9))
        check = uscc.calc_check_digit(body)
        if check.isdigit():
            return body + check


def test_a_code_of_digits_only_is_a_uscc_through_the_eighteen_digit_pattern() -> None:
    # The uscc pattern leaves codes of 17 digits and a digit (or X) to digits18, which tries a
    # resident ID, then a USCC, then a card: the same readings as before, one candidate fewer.
    rng = random.Random(14)
    engines = ("re", "hyperscan") if hyperscan_available() else ("re",)
    for _ in range(20):
        code = _all_digit_uscc(rng)
        lettered = code[:10] + "A" + code[11:17]
        from stdnum.cn import uscc

        lettered += uscc.calc_check_digit(lettered)
        for engine in engines:
            scanner = Scanner(engine=engine, clock=CLOCK)
            assert [(f.type, f.value) for f in scanner.scan(f"信用代码 {code}，另 {lettered}")] == [("uscc", code), ("uscc", lettered)]


def test_ascii_patterns_match_the_shadow_where_they_match_the_text() -> None:
    # What lets the ASCII patterns run on the shadow: a ? stands for any other character, and no
    # ASCII pattern tells the two apart. A pattern that did (a ? in a class, a negated class)
    # would fail here.
    rng = random.Random(15)
    text = "\n".join(_awkward_lines(rng)) + mixed_corpus(rng, lines=200) + "？?１２３４５６７８９０１２３４５６７８é13812345678ü"
    shadow = text.encode("ascii", "replace").decode("ascii")
    for spec in pattern_specs():
        if not is_ascii_source(spec) or spec.shadow is not None:
            continue
        pattern = re.compile(spec.source, re.ASCII)
        assert [m.span() for m in pattern.finditer(text)] == [m.span() for m in pattern.finditer(shadow)], spec.name
