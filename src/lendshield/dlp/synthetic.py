"""Synthetic values that pass the checks: for tests, the benchmark corpus and canary identities.

Never real people: resident IDs use real area codes with random birth dates and sequence
numbers, cards use test-looking issuer ranges, mobiles use allocated blocks. A caller wanting
repeatable output passes a seeded ``random.Random``.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from stdnum import luhn
from stdnum.cn import uscc as stdnum_uscc

from lendshield.dlp.checks import _RID_CHECK, _RID_WEIGHTS

AREA_CODES = ("110101", "110105", "310104", "440305", "440106", "330106", "320102", "510107", "420106", "610113", "500103", "370202")
MOBILE_PREFIXES = ("138", "139", "136", "150", "151", "158", "186", "187", "188", "135", "137", "159", "183", "182", "177", "199")
CARD_BINS = ("622202", "622848", "621700", "622588", "623668", "625911", "436742", "524047", "622609")
USCC_ORG = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def resident_id_check(body17: str) -> str:
    """GB 11643-1999 check character for the first 17 digits."""
    return _RID_CHECK[sum(w * int(c) for w, c in zip(_RID_WEIGHTS, body17, strict=True)) % 11]


def resident_id(rng: random.Random, born: date | None = None) -> str:
    born = born or date(1950, 1, 1) + timedelta(days=rng.randrange(0, 365 * 55))
    body = f"{rng.choice(AREA_CODES)}{born:%Y%m%d}{rng.randrange(1000):03d}"
    return body + resident_id_check(body)


def legacy_resident_id(rng: random.Random) -> str:
    born = date(1930, 1, 1) + timedelta(days=rng.randrange(0, 365 * 69))
    return f"{rng.choice(AREA_CODES)}{born:%y%m%d}{rng.randrange(1000):03d}"


def mobile(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def bank_card(rng: random.Random, length: int | None = None) -> str:
    length = length or rng.choice((16, 19))
    body = rng.choice(CARD_BINS) + "".join(str(rng.randrange(10)) for _ in range(length - 7))
    return body + luhn.calc_check_digit(body)


def uscc(rng: random.Random) -> str:
    body = rng.choice("159") + rng.choice("123") + rng.choice(AREA_CODES) + "".join(rng.choice(USCC_ORG) for _ in range(9))
    return body + stdnum_uscc.calc_check_digit(body)


def corrupt_check(value: str) -> str:
    """The same value with its last character changed: it fails its check digit."""
    last = value[-1]
    digits = "0123456789"
    replacement = digits[(digits.index(last) + 1) % 10] if last in digits else "0"
    return value[:-1] + replacement
