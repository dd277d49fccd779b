"""Validators: check a value and return its normalised form, or refuse it with a reason.

A validator returns ``(normalised, warnings)``. Warnings are facts worth recording that must not
refuse a genuine value (a resident ID whose area code is unknown or newer than the birth year).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

import phonenumbers
from stdnum import imei as stdnum_imei
from stdnum import luhn
from stdnum.cn import ric

from lendshield.catalog.errors import FieldInvalid

Validated = tuple[str, list[str]]
Validator = Callable[[str, str], Validated]

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
_REF = re.compile(r"^[A-Za-z0-9:_./-]{1,200}$")


def _nfkc(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip()


def _no_control(path: str, value: str) -> None:
    if _CONTROL.search(value):
        raise FieldInvalid(path, "contains control characters")


def resident_id_birth_date(number: str) -> date:
    """Birth date from an 18-digit or legacy 15-digit resident ID (already normalised)."""
    if len(number) == 15:
        return date(1900 + int(number[6:8]), int(number[8:10]), int(number[10:12]))
    return ric.get_birth_date(number)


def cn_resident_id(path: str, raw: str) -> Validated:
    """GB 11643-1999: 18 characters with an ISO 7064 MOD 11-2 check, or the legacy 15 digits.

    An area code unknown to our table, or created after the birth year, is only a warning:
    people born before their district was renamed carry such codes on genuine IDs.
    """
    value = _nfkc(raw).replace(" ", "").upper()
    warnings: list[str] = []
    if len(value) == 15:
        if not value.isdigit():
            raise FieldInvalid(path, "a 15-digit resident ID has only digits")
    elif len(value) == 18:
        if not value[:17].isdigit() or not (value[17].isdigit() or value[17] == "X"):
            raise FieldInvalid(path, "an 18-character resident ID is 17 digits and a digit or X")
        if ric.calc_check_digit(value) != value[17]:
            raise FieldInvalid(path, "check digit does not match (GB 11643)")
    else:
        raise FieldInvalid(path, "a resident ID has 18 characters (or 15 digits, legacy)")
    try:
        born = resident_id_birth_date(value)
    except (ValueError, ric.ValidationError) as exc:
        raise FieldInvalid(path, "birth date in the resident ID is not a real date") from exc
    if born.year < 1880 or born > datetime.now(UTC).date():
        raise FieldInvalid(path, "birth date in the resident ID is implausible")
    if len(value) == 18:
        try:
            ric.get_birth_place(value)
        # stdnum raises KeyError (not ValidationError) for a code whose province is known but
        # whose county is not, e.g. 123456: still only a warning, never a crash or a refusal.
        except (ric.ValidationError, KeyError, ValueError, IndexError):
            warnings.append("area code not in the current administrative-division table")
    return value, warnings


def phone(path: str, raw: str) -> Validated:
    """Any valid number; mainland China by default. Normalised to E.164."""
    value = _nfkc(raw)
    _no_control(path, value)
    try:
        parsed = phonenumbers.parse(value, "CN")
    except phonenumbers.NumberParseException as exc:
        raise FieldInvalid(path, "not a phone number") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise FieldInvalid(path, "not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164), []


def email(path: str, raw: str) -> Validated:
    value = _nfkc(raw)
    if len(value) > 254 or not _EMAIL.match(value):
        raise FieldInvalid(path, "not an e-mail address")
    local, _, domain = value.rpartition("@")
    return f"{local}@{domain.lower()}", []


def bank_card(path: str, raw: str) -> Validated:
    value = _nfkc(raw).replace(" ", "").replace("-", "")
    if not value.isdigit() or not 12 <= len(value) <= 19:
        raise FieldInvalid(path, "a bank card number has 12 to 19 digits")
    if not luhn.is_valid(value):
        raise FieldInvalid(path, "Luhn check failed")
    return value, []


def imei(path: str, raw: str) -> Validated:
    value = _nfkc(raw).replace(" ", "").replace("-", "")
    if len(value) != 15 or not stdnum_imei.is_valid(value):
        raise FieldInvalid(path, "not a valid 15-digit IMEI (Luhn)")
    return value, []


def person_name(path: str, raw: str) -> Validated:
    value = _nfkc(raw)
    _no_control(path, value)
    if not 1 <= len(value) <= 64:
        raise FieldInvalid(path, "a name has 1 to 64 characters")
    if any(ch.isdigit() for ch in value):
        raise FieldInvalid(path, "a name has no digits")
    return value, []


def text(path: str, raw: str) -> Validated:
    value = _nfkc(raw)
    _no_control(path, value)
    if not 1 <= len(value) <= 200:
        raise FieldInvalid(path, "must have 1 to 200 characters")
    return value, []


def address(path: str, raw: str) -> Validated:
    value = _nfkc(raw)
    _no_control(path, value)
    if not 2 <= len(value) <= 300:
        raise FieldInvalid(path, "an address has 2 to 300 characters")
    return value, []


def money(path: str, raw: str) -> Validated:
    value = _nfkc(raw).replace(",", "")
    try:
        amount = Decimal(value)
    except InvalidOperation as exc:
        raise FieldInvalid(path, "not an amount") from exc
    if not amount.is_finite() or amount < 0 or amount > Decimal("1e12"):
        raise FieldInvalid(path, "amount out of range")
    return f"{amount.quantize(Decimal('0.01'))}", []


def geo_point(path: str, raw: str) -> Validated:
    value = _nfkc(raw)
    parts = value.split(",")
    try:
        lat, lon = (float(p) for p in parts)
    except ValueError as exc:
        raise FieldInvalid(path, "a location is 'latitude,longitude'") from exc
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise FieldInvalid(path, "latitude or longitude out of range")
    return f"{lat:.6f},{lon:.6f}", []


def opaque_ref(path: str, raw: str) -> Validated:
    value = _nfkc(raw)
    if not _REF.match(value):
        raise FieldInvalid(path, "a reference has 1 to 200 of A-Z a-z 0-9 : _ . / -")
    return value, []


VALIDATORS: dict[str, Validator] = {
    "cn_resident_id": cn_resident_id,
    "phone": phone,
    "email": email,
    "bank_card": bank_card,
    "imei": imei,
    "person_name": person_name,
    "text": text,
    "address": address,
    "money": money,
    "geo_point": geo_point,
    "opaque_ref": opaque_ref,
}
