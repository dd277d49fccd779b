"""Hypothesis: generated valid values are found wherever they are planted, and the scanner's
fast checks agree with the reference implementations (catalog validator, stdnum, phonenumbers)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime

import phonenumbers
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import luhn
from stdnum.cn import uscc as stdnum_uscc

from lendshield.catalog import FieldInvalid
from lendshield.catalog import validators as catalog
from lendshield.clock import FrozenClock
from lendshield.dlp import Scanner, checks
from lendshield.dlp import synthetic as syn

SCANNER = Scanner(clock=FrozenClock(datetime(2026, 11, 23, tzinfo=UTC)))
TODAY = date(2026, 11, 23)
seeds = st.integers(min_value=0, max_value=2**32)
# Text around a planted value: Chinese, punctuation, spaces; never a letter or digit touching it.
filler = st.text(alphabet="的是了人在有我他这中大来上个国到说们为子和你地出道也时年，。：；！ \n", max_size=30)
GENERATORS = {
    "resident_id": syn.resident_id,
    "mobile": syn.mobile,
    "bank_card": syn.bank_card,
    "uscc": syn.uscc,
}


@settings(max_examples=60, deadline=None)
@given(seed=seeds, kind=st.sampled_from(sorted(GENERATORS)), before=filler, after=filler, full_width=st.booleans())
def test_planted_valid_values_are_found_with_their_span(seed: int, kind: str, before: str, after: str, full_width: bool) -> None:
    value = GENERATORS[kind](random.Random(seed))
    shown = value.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789"}) if full_width else value
    text = before + shown + after
    hits = [f for f in SCANNER.scan(text, context="") if f.type == kind]
    assert [(f.start, f.end, f.normalized) for f in hits] == [
        (len(before), len(before) + len(shown), value if kind != "mobile" else "+86" + value)
    ]


@settings(max_examples=80, deadline=None)
@given(digits=st.text(alphabet="0123456789", min_size=17, max_size=17), check=st.sampled_from("0123456789X"))
def test_resident_id_check_agrees_with_the_catalog_validator(digits: str, check: str) -> None:
    value = digits + check
    try:
        catalog.cn_resident_id("p", value)
        reference = True
    except FieldInvalid:
        reference = False
    ours = checks.resident_id(value, TODAY) is not None
    # The scanner also refuses unknown province codes (the catalog only warns about counties).
    assert ours == (reference and value[:2] in checks.PROVINCE_CODES)


@settings(max_examples=80, deadline=None)
@given(digits=st.text(alphabet="0123456789", min_size=16, max_size=19))
def test_luhn_agrees_with_stdnum(digits: str) -> None:
    assert checks.luhn_valid(digits) == luhn.is_valid(digits)


@settings(max_examples=120, deadline=None)
@given(rest=st.text(alphabet="0123456789", min_size=10, max_size=10))
def test_mobile_block_cache_agrees_with_phonenumbers(rest: str) -> None:
    number = "1" + rest
    parsed = phonenumbers.parse("+86" + number, None)
    reference = phonenumbers.is_valid_number(parsed) and phonenumbers.number_type(parsed) in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )
    assert (checks.mobile(number) is not None) == reference


@settings(max_examples=40, deadline=None)
@given(seed=seeds)
def test_corrupted_check_digits_are_never_found(seed: int) -> None:
    rng = random.Random(seed)
    for kind, make in (("resident_id", syn.resident_id), ("bank_card", syn.bank_card), ("uscc", syn.uscc)):
        bad = syn.corrupt_check(make(rng))
        assert kind not in {f.type for f in SCANNER.scan(f"值 {bad} 止")}


def _parsed_fixed_line(national: str) -> bool:
    try:
        parsed = phonenumbers.parse("0" + national, "CN")
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(parsed) and phonenumbers.number_type(parsed) in (
        phonenumbers.PhoneNumberType.FIXED_LINE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )


@settings(max_examples=300, deadline=None)
@given(
    area=st.sampled_from(["10", "20", "21", "28", "311", "379", "433", "571", "755", "851", "898", "0", "1", "9", ""]),
    rest=st.text(alphabet="0123456789", min_size=4, max_size=11),
)
def test_fixed_line_plan_from_metadata_agrees_with_parsing(area: str, rest: str) -> None:
    national = (area + rest)[:11]
    assert checks._cn_fixed_line(national) == _parsed_fixed_line(national)


@settings(max_examples=300, deadline=None)
@given(
    head=st.sampled_from(["91", "92", "11", "12", "51", "A1", "N2", "Y1", "93"]),
    division=st.sampled_from(["110000", "310104", "440305", "100000", "990000", "12345A"]),
    rest=st.text(alphabet="0123456789ABCDEFGHJKLMNPQRTUWXYIOSVZ", min_size=10, max_size=10),
    fix=st.booleans(),
)
def test_uscc_check_character_agrees_with_stdnum(head: str, division: str, rest: str, fix: bool) -> None:
    code = head + division + rest
    if fix and all(c in checks._USCC_ALPHABET for c in code[:17]):  # the right check character, half the time
        code = code[:17] + stdnum_uscc.calc_check_digit(code[:17])
    reference = code[1] in checks._USCC_KINDS.get(code[0], "") and code[2:4] in checks._USCC_DIVISIONS and stdnum_uscc.is_valid(code)
    assert (checks.uscc(code) is not None) == reference


@settings(max_examples=300, deadline=None)
@given(
    born=st.dates(min_value=date(1870, 1, 1), max_value=date(2030, 12, 31)),
    today=st.dates(min_value=date(2000, 1, 1), max_value=date(2030, 12, 31)),
    area=st.sampled_from(syn.AREA_CODES),
    legacy=st.booleans(),
)
def test_resident_id_birth_date_window_by_set_look_up(born: date, today: date, area: str, legacy: bool) -> None:
    if legacy:
        value = f"{area}{born:%y%m%d}123"
        expected = date(1900 + born.year % 100, born.month, born.day) <= today  # legacy IDs are 19xx
    else:
        body = f"{area}{born:%Y%m%d}123"
        value = body + syn.resident_id_check(body)
        expected = date(1880, 1, 1) <= born <= today
    assert (checks.resident_id(value, today) is not None) == expected
