"""The checks a candidate must pass to become a finding: checksums, dates, number plans.

Each check takes the candidate value (NFKC-normalised) and returns its canonical form, or
``None`` when the value is not of that type. They run hundreds of thousands of times per
second of scanning, so they avoid per-call parsing where a table does the same job.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from datetime import date
from functools import cache, lru_cache

import phonenumbers
from stdnum.cn import uscc as stdnum_uscc

# GB/T 2260 province-level codes: the first two digits of a resident ID. An unknown county
# code is not a refusal (genuine IDs carry codes of districts renamed since), a province is.
PROVINCE_CODES = frozenset(
    {"11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41", "42", "43"}
    | {"44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71", "81", "82", "83", "91"}
)
# GB 11643-1999 / ISO 7064 MOD 11-2: weights 2^(17-i) mod 11 and the check-character table.
_RID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_RID_CHECK = "10X98765432"
_EARLIEST_BIRTH = date(1880, 1, 1)

# ISO/IEC 7812 Luhn: the digit sum of 2*d for each digit d.
_LUHN_DOUBLE = str.maketrans("0123456789", "0246813579")
# Issuer identification number prefixes of cards issued in or used from mainland China:
# UnionPay 62 and 81, Visa 4, Mastercard 51-55 and 2221-2720, JCB 3528-3589, Discover 6011/644-649/65,
# and the domestic 60 ranges some banks kept from before UnionPay.
_USCC_KINDS = {"1": "1239", "2": "19", "3": "123459", "4": "19", "5": "1239", "6": "129", "7": "1239", "8": "19", "9": "123"}
_USCC_KINDS |= {"A": "19", "N": "1239", "Y": "1"}
# Organisations registered at national level carry 100000.
_USCC_DIVISIONS = PROVINCE_CODES | {"10"}
# The code's alphabet (no I, O, S, V, Z), each character as a base-34 digit of its value.
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_BASE34 = str.maketrans(_USCC_ALPHABET, "0123456789abcdefghijklmnopqrstu")
_CARD_PREFIX_2 = frozenset({"62", "81", "60", "65", "51", "52", "53", "54", "55"})


def resident_id_sum(body: str) -> int:
    """The MOD 11-2 weighted sum of 17 ASCII digits, modulo 11.

    The weights are 2^(17-i) mod 11, so the sum is 2 * P(2) mod 11 for the polynomial P whose
    coefficients are the digits; 13 = 2 (mod 11), and ``int(body, 13)`` evaluates P(13) in C.
    """
    return 2 * int(body, 13) % 11


def resident_id(value: str, today: date) -> str | None:
    """GB 11643-1999 resident ID (18 with MOD 11-2, or legacy 15 digits), canonical upper-case."""
    digits = value.replace(" ", "").replace("-", "").upper()
    n = len(digits)
    if n == 18:
        body = digits[:17]
        if not body.isdigit() or digits[:2] not in PROVINCE_CODES:
            return None
        if _RID_CHECK[resident_id_sum(body)] != digits[17]:
            return None
        born = digits[6:14]
    elif n == 15:
        if not digits.isdigit() or digits[:2] not in PROVINCE_CODES:
            return None
        born = "19" + digits[6:12]
    else:
        return None
    if born.isascii():
        years, last = _birth_years(today)
        days = years.get(born[:4])
        return digits if days is not None and born[4:] in days and born <= last else None
    try:  # other Unicode digits: what int() makes of them
        day = date(int(born[:4]), int(born[4:6]), int(born[6:]))
    except ValueError:
        return None
    return digits if _EARLIEST_BIRTH <= day <= today else None


def _month_days(leap: bool) -> frozenset[str]:
    year = 2000 if leap else 2001
    first = date(year, 1, 1).toordinal()
    return frozenset(f"{d.month:02d}{d.day:02d}" for d in map(date.fromordinal, range(first, date(year, 12, 31).toordinal() + 1)))


_COMMON_DAYS, _LEAP_DAYS = _month_days(False), _month_days(True)


@lru_cache(maxsize=4)
def _birth_years(today: date) -> tuple[dict[str, frozenset[str]], str]:
    """The years from 1880 to ``today`` as YYYY, each with its real days as MMDD, and today as
    YYYYMMDD: set look-ups and one string comparison instead of parsing a date."""
    years = {
        f"{y:04d}": _LEAP_DAYS if y % 4 == 0 and (y % 100 != 0 or y % 400 == 0) else _COMMON_DAYS
        for y in range(_EARLIEST_BIRTH.year, today.year + 1)
    }
    return years, f"{today.year:04d}{today.month:02d}{today.day:02d}"


def luhn_valid(digits: str) -> bool:
    """ISO/IEC 7812-1 Annex B check digit (every second digit from the right doubled)."""
    backwards = digits[::-1]
    if backwards.isascii():
        # Digit sums as byte sums (48 is the code of 0): no int() per digit.
        doubled = backwards[1::2].translate(_LUHN_DOUBLE)
        return (sum(backwards[0::2].encode()) + sum(doubled.encode()) - 48 * len(backwards)) % 10 == 0
    return (sum(map(int, backwards[0::2])) + sum(map(int, backwards[1::2].translate(_LUHN_DOUBLE)))) % 10 == 0


def card_issuer_known(digits: str) -> bool:
    if digits[0] == "4" or digits[:2] in _CARD_PREFIX_2:
        return True
    head4 = int(digits[:4])
    return 2221 <= head4 <= 2720 or 3528 <= head4 <= 3589 or head4 == 6011 or 644 <= head4 // 10 <= 649


def bank_card(value: str) -> str | None:
    """16 to 19 digits with a known issuer prefix and a valid Luhn digit; canonical digits only."""
    digits = value.replace(" ", "").replace("-", "")
    if not 16 <= len(digits) <= 19 or not digits.isdigit():
        return None
    if not card_issuer_known(digits) or not luhn_valid(digits):
        return None
    return digits


def uscc(value: str) -> str | None:
    """GB 32100-2015 unified social credit code (python-stdnum checks the MOD 31 digit)."""
    code = value.upper()
    # GB 32100-2015 4.1: the registering authority (1-9, A, N, Y) and the kinds of body it may
    # register; a code starting 20... or 11... as order numbers and IDs do is neither.
    if code[1] not in _USCC_KINDS.get(code[0], ""):
        return None
    # Characters 3-8 are the registering authority's GB/T 2260 division code: a cheap test that
    # turns away most 18-digit strings (resident IDs, cards) before the MOD 31 check.
    if code[2:4] not in _USCC_DIVISIONS:
        return None
    if len(code) != 18 or not code.isascii() or not code.isalnum():
        return code if stdnum_uscc.is_valid(code) else None  # separators, other characters
    # The MOD 31 check character exactly as python-stdnum computes it (a property test compares
    # the two), without its per-call parsing: character i weighs 3^i mod 31, so the sum is the
    # polynomial of the character values at 3, which int(..., 34) evaluates (34 = 3 mod 31).
    values = code.translate(_USCC_BASE34)
    if not code[:8].isdigit() or values != values.lower():
        return None  # a letter outside the code's alphabet (I, O, S, V, Z) is still upper-case
    return code if _USCC_ALPHABET[-int(values[16::-1], 34) % 31] == code[17] else None


@lru_cache(maxsize=16384)
def _mobile_block_valid(block: str) -> bool:
    # The number plan decides validity by the leading digits; phonenumbers' CN mobile patterns
    # look at no more than the first five (1740x, 1610x), so the answer for a 5-digit block
    # holds for every number in it (a test compares the two on generated numbers).
    # What number_type(parse("+86" + block + "000000")) says, from the metadata (a test
    # compares the two): mobile, or fixed line or mobile.
    national = block + "000000"
    general, earlier, fixed, mobile_desc, same = _cn_descriptions()
    if not general(national) or any(test(national) for test in earlier):
        return False
    if fixed(national):
        return same or mobile_desc(national)
    return not same and mobile_desc(national)


def mobile(value: str) -> str | None:
    """A mainland mobile number, with or without +86 / 0086 / 86; canonical E.164."""
    digits = value.replace(" ", "").replace("-", "").lstrip("+")
    if digits.startswith("0086"):
        digits = digits[4:]
    elif len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    if len(digits) != 11 or not digits.isdigit() or digits[0] != "1":
        return None
    return "+86" + digits if _mobile_block_valid(digits[:5]) else None


def landline(value: str) -> str | None:
    """A mainland fixed-line number with its area code (0xx / 0xxx); canonical E.164."""
    digits = value.replace(" ", "").replace("-", "").replace("(", "").replace(")", "")
    if not digits.isdigit() or digits[0] != "0" or not 7 <= len(digits) <= 12:
        return None
    national = digits[1:]
    return "+86" + national if _fixed_line_valid(national[:6], len(national)) else None


@lru_cache(maxsize=65536)
def _fixed_line_valid(prefix: str, length: int) -> bool:
    # The CN fixed-line patterns of phonenumbers decide by the area code and the first digits
    # of the subscriber number, then any digits to the length: the answer for six leading
    # digits and a length holds for every number sharing them (a test compares the two).
    # Some ranges exclude a trailing all-zero block; the other end of the range is tried too.
    rest = length - len(prefix)
    return _cn_fixed_line(prefix + "0" * rest) or _cn_fixed_line(prefix + "9" * rest)


def _cn_fixed_line(national: str) -> bool:
    """What ``number_type(parse("0" + national, "CN"))`` says (fixed line, or fixed line or
    mobile), from phonenumbers' CN metadata without parsing: a test compares the two."""
    if national[:1] == "0":  # "00" is the international prefix: parsing does more than drop a 0
        return _parsed_fixed_line("0" + national)
    general, earlier, fixed, _, _ = _cn_descriptions()
    return general(national) and not any(test(national) for test in earlier) and fixed(national)


def _parsed_fixed_line(number: str) -> bool:
    try:
        parsed = phonenumbers.parse(number, "CN")
    except phonenumbers.NumberParseException:
        return False  # 00 and a country code that does not exist: no number at all
    return phonenumbers.number_type(parsed) in (phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)


_Test = Callable[[str], bool]


@cache
def _cn_descriptions() -> tuple[_Test, tuple[_Test, ...], _Test, _Test, bool]:
    """(the general description, the types phonenumbers tries before fixed line, fixed line,
    mobile) of the CN number plan, each as a test of a national number (its possible lengths and
    pattern), and whether fixed-line and mobile patterns are the same: what phonenumbers'
    number_type decides by, in that order."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region("CN")
    assert metadata is not None

    def test(desc: phonenumbers.PhoneNumberDesc | None) -> _Test:
        if desc is None or not desc.national_number_pattern:
            return lambda _national: False
        lengths = frozenset(desc.possible_length)
        pattern = re.compile(desc.national_number_pattern)
        if not lengths:
            return lambda national: pattern.fullmatch(national) is not None
        return lambda national: len(national) in lengths and pattern.fullmatch(national) is not None

    m = metadata
    earlier = (m.premium_rate, m.toll_free, m.shared_cost, m.voip, m.personal_number, m.pager, m.uan, m.voicemail)
    return (
        test(m.general_desc),
        tuple(test(d) for d in earlier),
        test(m.fixed_line),
        test(m.mobile),
        bool(m.same_mobile_and_fixed_line_pattern),
    )


def email(value: str) -> str | None:
    """RFC 5321 limits: 64 characters before the @, 254 in all; the domain is lower-cased."""
    local, _, domain = value.rpartition("@")
    if not local or len(local) > 64 or len(value) > 254 or ".." in value or local.startswith(".") or local.endswith("."):
        return None
    return f"{local}@{domain.lower()}"


def ipv4(value: str, before: str, after: str) -> str | None:
    """Dotted quad (RFC 791), not a piece of a longer dotted number such as a version 1.2.3.4.5."""
    if before == "." or after == ".":
        return None
    octets = value.split(".")
    # Each octet 0-255 without a leading zero (RFC 6943 3.1.1: 010 is ambiguous, octal to some).
    if len(octets) != 4 or any(len(o) > 1 and o[0] == "0" for o in octets) or any(int(o) > 255 for o in octets):
        return None
    return value


def ipv6(value: str, before: str, after: str) -> str | None:
    """RFC 4291 text form; clock times (12:30:45) and MAC addresses are not addresses."""
    if before.isalnum() or before in ":." or after.isalnum() or after in ":.":
        return None
    if sum(ch in "0123456789abcdefABCDEF" for ch in value) < 2:
        return None
    try:
        return ipaddress.IPv6Address(value).compressed
    except ValueError:
        return None


def licence_plate(value: str) -> str | None:
    """GA 36-2018 plates: province, issuing-office letter, then five characters (six for new energy).

    A serial has at most two letters (I and O are never used); a new-energy serial is six with
    D or F first or last.
    """
    plate = value.replace("·", "").replace("•", "").upper()
    serial = plate[2:]
    if len(serial) == 6:
        if serial[0] not in "DF" and serial[-1] not in "DF":
            return None
        inner = serial[1:] if serial[0] in "DF" else serial[:-1]
        if sum(ch.isalpha() for ch in inner) > 1:
            return None
    elif len(serial) == 5:
        if sum("A" <= ch <= "Z" for ch in serial) > 2:
            return None
    else:
        return None
    return plate
