"""How a finding is shown when the operator did not ask for values (the default)."""

from __future__ import annotations

from lendshield.catalog import masks
from lendshield.dlp.config import PiiType


def _card(digits: str) -> str:
    # PCI DSS 3.4: at most the issuer prefix and the last four digits may be displayed.
    return digits[:6] + "*" * (len(digits) - 10) + digits[-4:]


def _ipv4(value: str) -> str:
    a, b, *_ = value.split(".")
    return f"{a}.{b}.*.*"


def mask_value(kind: PiiType, normalized: str) -> str:
    """A display form that identifies the kind and rough place of a value, never the value."""
    if kind == "resident_id":
        return masks.resident_id(normalized)
    if kind in ("mobile", "landline"):
        return masks.phone(normalized)
    if kind == "bank_card":
        return _card(normalized)
    if kind == "email":
        return masks.email(normalized)
    if kind == "person_name":
        return masks.name(normalized)
    if kind == "address":
        return masks.address_city(normalized)
    if kind == "ipv4":
        return _ipv4(normalized)
    if kind == "ipv6":
        return normalized.split(":", maxsplit=1)[0] + ":****"
    if kind == "licence_plate":
        return normalized[:2] + "***" + normalized[-1:]
    if kind == "passport":
        return normalized[:1] + "*" * (len(normalized) - 3) + normalized[-2:]
    return normalized[:2] + "*" * max(len(normalized) - 4, 0) + normalized[-2:]
