"""Keyed digests: blind indexes, opaque references and token digests (HMAC-SHA256)."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def keyed_digest(key: bytes, *parts: str) -> bytes:
    """HMAC-SHA256 over length-prefixed parts, so ("ab","c") and ("a","bc") differ."""
    mac = hmac.new(key, digestmod=hashlib.sha256)
    for part in parts:
        raw = part.encode()
        mac.update(len(raw).to_bytes(4, "big"))
        mac.update(raw)
    return mac.digest()


def token_digest(token: str) -> bytes:
    """Digest of a high-entropy bearer secret (API token); plain SHA-256 suffices for 256-bit secrets."""
    return hashlib.sha256(token.encode()).digest()


def constant_time_equal(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)


def random_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
