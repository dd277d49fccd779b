"""Export fingerprints: what identifies a file after it has been re-sorted, cut down or re-formatted.

Three marks, all stored as keyed digests (HMAC-SHA256 under a secret of their own, truncated to
128 bits), never as values:

- ``value``: every exported (row, value). Any fragment of real rows names the exports that held
  those values together in one row.
- ``rowref``: each row's reference (a per-export pseudonym of the row, the first column), unique
  to the export.
- ``canary`` / ``weak``: the values of the synthetic canary rows, unique to the export; a common
  name, an amount or a masked value is ``weak`` and counts only with the rest of its row.

Values are normalised first (NFKC, spacing, phone-number and decimal forms) so that a copy pasted
through a spreadsheet still matches.
"""

from __future__ import annotations

import base64
import contextlib
import re
import unicodedata
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

from lendshield.crypto import keyed_digest
from lendshield.runtime import Runtime

SECRET_NAME = "transfers/fingerprint"
# Validators whose random values are distinctive enough that one value names a canary's export.
DISTINCTIVE = frozenset({"cn_resident_id", "phone", "email", "bank_card", "imei", "opaque_ref", "address", "geo_point"})
DIGEST_BYTES = 16
ROW_REF_COLUMN = "row_ref"

_DIGITISH = re.compile(r"^\+?[0-9][0-9 \-().]*[0-9Xx]$")
_CN_MOBILE = re.compile(r"^(?:\+?86|0086)?(1[3-9][0-9]{9})$")
_DECIMAL = re.compile(r"^-?[0-9]+\.[0-9]+$")
_SPACES = re.compile(r"\s+")


def normalise(value: object) -> str | None:
    """The form a value is digested in; None for what carries no identifying content."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a spreadsheet turned "13812345678" into a number
    text = unicodedata.normalize("NFKC", str(value)).strip().strip("'\"")
    if _DECIMAL.match(text):
        with contextlib.suppress(InvalidOperation):
            text = format(Decimal(text).normalize(), "f")  # "12000.00" and 12000 are one amount
    elif _DIGITISH.match(text):
        compact = re.sub(r"[ \-().]", "", text).upper()
        mobile = _CN_MOBILE.match(compact)
        text = mobile.group(1) if mobile else compact
    text = _SPACES.sub(" ", text).casefold()
    # Masked-out values ("******") and single characters are in every export: no evidence.
    if len(text.replace("*", "")) < 2:
        return None
    return text


_MANY_DIGITS = re.compile(r"[0-9]")


def distinctive(normalised: str) -> bool:
    """A value that names one person on its own: an ID, a phone or card number, an e-mail address."""
    return len(_MANY_DIGITS.findall(normalised)) >= 8 or ("@" in normalised and "*" not in normalised)


class Marker:
    """Computes digests and row references with the fingerprint secret of this deployment."""

    def __init__(self, rt: Runtime) -> None:
        self._key = rt.keys.secret(SECRET_NAME)

    def digest(self, normalised: str) -> bytes:
        return keyed_digest(self._key, "v1", normalised)[:DIGEST_BYTES]

    def digests(self, values: Iterable[object]) -> set[bytes]:
        out = set()
        for value in values:
            norm = normalise(value)
            if norm is not None:
                out.add(self.digest(norm))
        return out

    def row(self, values: Iterable[object]) -> tuple[set[bytes], set[bytes]]:
        """The digests of a row's values, and which of them are distinctive on their own."""
        all_digests, strong = set(), set()
        for value in values:
            norm = normalise(value)
            if norm is not None:
                digest = self.digest(norm)
                all_digests.add(digest)
                if distinctive(norm):
                    strong.add(digest)
        return all_digests, strong

    def row_ref(self, export_id: str, slot: int) -> str:
        """A per-export pseudonym of one row: lets the recipient refer to a row, and names the export."""
        raw = keyed_digest(self._key, "rowref", export_id, str(slot))[:10]
        return "r" + base64.b32encode(raw).decode().lower().rstrip("=")
