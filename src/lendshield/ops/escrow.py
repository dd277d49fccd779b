"""M-of-N escrow of a key-custodian identity among officers (Shamir's secret sharing over GF(2^8)).

The key file is backed up encrypted to an escrow recipient (`lendshield backup-key backup-keys`);
the escrow identity that opens it is split into N shares, any M of which rebuild it and fewer
than M of which say nothing about it (Shamir, "How to share a secret", CACM 22(11), 1979). No
single officer can open the keys, and losing N - M shares loses nothing.

A share is one line: ``lendshield-share-v1:<M>:<x>:<check>:<hex>``; ``check`` commits to the secret
(a truncated SHA-256), so a set of shares from different splits, or too few, is refused rather
than silently rebuilding garbage.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from lendshield.errors import InvalidInput

PREFIX = "lendshield-share-v1"

# GF(2^8) with the AES polynomial x^8 + x^4 + x^3 + x + 1; 3 generates the multiplicative group.
_EXP = [0] * 512
_LOG = [0] * 256
_v = 1
for _i in range(255):
    _EXP[_i] = _v
    _LOG[_v] = _i
    _v ^= (_v << 1) ^ (0x11B if _v & 0x80 else 0)  # multiply by 3 = x + 1
    _v &= 0xFF
for _i in range(255, 512):
    _EXP[_i] = _EXP[_i - 255]


def _mul(a: int, b: int) -> int:
    return 0 if a == 0 or b == 0 else _EXP[_LOG[a] + _LOG[b]]


def _div(a: int, b: int) -> int:
    return 0 if a == 0 else _EXP[_LOG[a] - _LOG[b] + 255]


class BadShares(InvalidInput):
    code = "bad-shares"
    title = "Shares do not rebuild a secret"


@dataclass(frozen=True)
class Share:
    threshold: int
    x: int
    check: str
    y: bytes

    def encode(self) -> str:
        return f"{PREFIX}:{self.threshold}:{self.x}:{self.check}:{self.y.hex()}"

    @classmethod
    def decode(cls, text: str) -> Share:
        parts = text.strip().split(":")
        if len(parts) != 5 or parts[0] != PREFIX:
            raise BadShares("not a LendShield share")
        try:
            share = cls(int(parts[1]), int(parts[2]), parts[3], bytes.fromhex(parts[4]))
        except ValueError as exc:
            raise BadShares("a share is malformed") from exc
        if not 2 <= share.threshold <= 255 or not 1 <= share.x <= 255 or len(share.check) != 16:
            raise BadShares("a share is malformed")
        return share


def _check(secret: bytes) -> str:
    return hashlib.sha256(b"lendshield/escrow/v1|" + secret).hexdigest()[:16]


def split(secret: bytes, *, shares: int, threshold: int) -> list[str]:
    """Split ``secret`` into ``shares`` lines, any ``threshold`` of which rebuild it."""
    if not 2 <= threshold <= shares <= 255:
        raise InvalidInput("need 2 <= threshold <= shares <= 255")
    if not secret:
        raise InvalidInput("nothing to split")
    # One random polynomial of degree threshold-1 per byte, its constant term the secret byte.
    coefficients = [[b, *(secrets.randbelow(256) for _ in range(threshold - 1))] for b in secret]
    check = _check(secret)
    out = []
    for x in range(1, shares + 1):
        y = bytearray()
        for poly in coefficients:
            acc = 0
            for c in reversed(poly):  # Horner's rule
                acc = _mul(acc, x) ^ c
            y.append(acc)
        out.append(Share(threshold, x, check, bytes(y)).encode())
    return out


def combine(lines: list[str]) -> bytes:
    """Rebuild the secret from at least ``threshold`` distinct shares of one split."""
    parsed = [Share.decode(line) for line in lines]
    if not parsed:
        raise BadShares("no shares given")
    first = parsed[0]
    if any((s.threshold, s.check, len(s.y)) != (first.threshold, first.check, len(first.y)) for s in parsed):
        raise BadShares("the shares come from different splits")
    distinct = {s.x: s for s in parsed}
    if len(distinct) < first.threshold:
        raise BadShares(f"{len(distinct)} distinct shares given; this split needs {first.threshold}")
    use = list(distinct.values())[: first.threshold]
    secret = bytearray()
    for i in range(len(first.y)):
        acc = 0
        for j, sj in enumerate(use):  # Lagrange interpolation at x = 0
            num, den = 1, 1
            for k, sk in enumerate(use):
                if k != j:
                    num = _mul(num, sk.x)
                    den = _mul(den, sj.x ^ sk.x)
            acc ^= _mul(sj.y[i], _div(num, den))
        secret.append(acc)
    if _check(bytes(secret)) != first.check:
        raise BadShares("the shares do not rebuild the escrowed secret (altered or mixed shares)")
    return bytes(secret)
