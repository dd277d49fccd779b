"""Property tests: masks never reveal what they hide; normalisation is idempotent; any valid
generated resident ID, phone and card is accepted."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import luhn
from stdnum.cn import ric

from lendshield.catalog import masks
from lendshield.catalog import validators as v

FAST = settings(max_examples=60, deadline=None)

digits = st.text(alphabet="0123456789", min_size=1, max_size=1)
areas = st.sampled_from(["110101", "110105", "310115", "440305", "510104", "650102", "999999", "123456"])
births = st.dates(min_value=date(1900, 1, 1), max_value=date(2025, 12, 31))


@st.composite
def resident_ids(draw: st.DrawFn) -> str:
    born = draw(births)
    seq = draw(st.integers(0, 999))
    body = f"{draw(areas)}{born:%Y%m%d}{seq:03d}"
    return body + ric.calc_check_digit(body + "0")


@st.composite
def legacy_ids(draw: st.DrawFn) -> str:
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=date(1999, 12, 31)))
    return f"{draw(areas)}{born:%y%m%d}{draw(st.integers(0, 999)):03d}"


@st.composite
def cn_mobiles(draw: st.DrawFn) -> str:
    prefix = draw(st.sampled_from(["130", "135", "138", "139", "150", "158", "177", "186", "189", "199"]))
    return prefix + draw(st.text(alphabet="0123456789", min_size=8, max_size=8))


@st.composite
def cards(draw: st.DrawFn) -> str:
    body = draw(st.text(alphabet="0123456789", min_size=11, max_size=18))
    return body + luhn.calc_check_digit(body)


def _decorate(number: str, style: int) -> str:
    if style == 0:
        return number
    if style == 1:
        return f"+86 {number[:3]} {number[3:7]} {number[7:]}"
    if style == 2:
        return f"{number[:3]}-{number[3:7]}-{number[7:]}"
    if style == 3:
        return number.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    return "0086" + number


@FAST
@given(resident_ids())
def test_any_valid_resident_id_is_accepted(number: str) -> None:
    value, _warnings = v.cn_resident_id("p", number)
    assert value == number.upper()


@FAST
@given(legacy_ids())
def test_any_valid_legacy_id_is_accepted(number: str) -> None:
    assert v.cn_resident_id("p", number)[0] == number


@FAST
@given(resident_ids(), st.integers(0, 16), digits)
def test_a_changed_digit_breaks_the_check(number: str, pos: int, digit: str) -> None:
    changed = number[:pos] + digit + number[pos + 1 :]
    if changed == number:
        return
    try:
        value, _ = v.cn_resident_id("p", changed)
    except v.FieldInvalid:
        return
    raise AssertionError(f"accepted a corrupted number at position {pos}: {value[:6]}")


@FAST
@given(resident_ids())
def test_resident_id_mask_hides_the_middle(number: str) -> None:
    shown = masks.resident_id(number)
    assert len(shown) == len(number)
    assert shown[:6] == number[:6]
    assert shown[-4:] == number[-4:]
    assert set(shown[6:-4]) == {"*"}


@FAST
@given(resident_ids())
def test_resident_id_normalisation_is_idempotent(number: str) -> None:
    once = v.cn_resident_id("p", " " + number.lower() + " ")[0]
    assert v.cn_resident_id("p", once)[0] == once


@FAST
@given(cn_mobiles(), st.integers(0, 4))
def test_phone_normalisation_is_idempotent_and_mask_hides_the_middle(number: str, style: int) -> None:
    try:
        e164 = v.phone("p", _decorate(number, style))[0]
    except v.FieldInvalid:
        return  # the generator may produce an unallocated range
    assert e164 == "+86" + number
    assert v.phone("p", e164)[0] == e164
    shown = masks.phone(e164)
    assert shown == number[:3] + "****" + number[-4:]
    assert number[3:7] not in shown.replace("*", "") or number[3:7] in (number[:3] + number[-4:])


@FAST
@given(st.text(alphabet="0123456789", min_size=6, max_size=12), st.sampled_from(["44", "1", "852", "81", "49"]))
def test_phone_mask_of_any_number_shows_at_most_the_last_four(national: str, cc: str) -> None:
    shown = masks.phone(f"+{cc}{national}")
    visible = shown.replace("*", "").replace(" ", "").replace("+", "")
    assert len(visible) <= len(cc) + 4 + 3  # country code, last four, mainland prefix at most


@FAST
@given(cards())
def test_cards_accepted_and_masked_to_last_four(card: str) -> None:
    value = v.bank_card("p", " ".join(card[i : i + 4] for i in range(0, len(card), 4)))[0]
    assert value == card
    assert v.bank_card("p", value)[0] == value
    assert masks.last4(value) == "**** " + card[-4:]


@FAST
@given(st.text(min_size=1, max_size=40))
def test_masks_never_fail_and_name_keeps_only_one_character_per_word(text: str) -> None:
    for mask in masks.MASKS.values():
        assert isinstance(mask(text), str)
    shown = masks.name(text)
    assert len(shown.replace("*", "").replace(" ", "")) <= max(1, len(text.split()))


@FAST
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=60))
def test_text_normalisation_is_idempotent(raw: str) -> None:
    for validator in (v.person_name, v.text, v.address, v.email):
        try:
            once = validator("p", raw)[0]
        except v.FieldInvalid:
            continue
        assert validator("p", once)[0] == once


@FAST
@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2025, 1, 1)))
def test_birth_date_comes_back(born: date) -> None:
    body = f"110101{born:%Y%m%d}123"
    assert v.resident_id_birth_date(body + ric.calc_check_digit(body + "0")) == born
    assert born + timedelta(0) == born
