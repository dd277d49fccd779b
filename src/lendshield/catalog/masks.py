"""Display masks: what a field looks like when clear text is not allowed (PIPL Art. 51 measures)."""

from __future__ import annotations

import re
from collections.abc import Callable

import phonenumbers

Mask = Callable[[str], str]

_REGION = r"(.{2,8}?(?:省|自治区|特别行政区))"
_CITY = re.compile(rf"^{_REGION}?(.{{1,10}}?(?:市|自治州|地区|盟))")
_PROVINCE_ONLY = re.compile(rf"^{_REGION}")


def resident_id(value: str) -> str:
    """``110101********1234``: area code and last four (GB/T 35273 example style)."""
    if len(value) < 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def phone(value: str) -> str:
    """``138****5678`` for mainland numbers, ``+44 ****1234`` elsewhere."""
    # Stored values are already E.164 (the validator normalised them): a mainland mobile needs no
    # parsing, which is two orders of magnitude slower than slicing and sits on every masked read.
    if len(value) == 14 and value.startswith("+861") and value[1:].isdigit():
        return value[3:6] + "****" + value[-4:]
    try:
        parsed = phonenumbers.parse(value, "CN")
    except phonenumbers.NumberParseException:
        return "*" * max(len(value) - 4, 0) + value[-4:]
    national = str(parsed.national_number)
    if parsed.country_code == 86 and len(national) == 11:
        return national[:3] + "****" + national[-4:]
    return f"+{parsed.country_code} " + "*" * max(len(national) - 4, 0) + national[-4:]


def name(value: str) -> str:
    """``张*`` / ``张**``: the surname only."""
    if not value:
        return value
    if value.isascii():
        parts = value.split()
        return " ".join(p[0] + "*" * (len(p) - 1) for p in parts)
    return value[0] + "*" * (len(value) - 1)


def email(value: str) -> str:
    local, _, domain = value.rpartition("@")
    return (local[:1] + "***@" + domain) if local else "***"


def address_city(value: str) -> str:
    """Cut to the city: ``广东省深圳市`` from a full street address."""
    match = _CITY.match(value) or _PROVINCE_ONLY.match(value)
    if match:
        return match.group(0) + "***"
    # No recognisable city or province (a county-level address): show less, never more.
    return value[:2] + "***"


def last4(value: str) -> str:
    return "**** " + value[-4:] if len(value) > 4 else "****"


def prefix2(value: str) -> str:
    return value[:2] + "***"


def hidden(_value: str) -> str:
    return "***"


def none(value: str) -> str:
    return value


MASKS: dict[str, Mask] = {
    "resident_id": resident_id,
    "phone": phone,
    "name": name,
    "email": email,
    "address_city": address_city,
    "last4": last4,
    "prefix2": prefix2,
    "hidden": hidden,
    "none": none,
}
