"""Sealing small secrets at rest (TOTP seeds and the like) under a named derived key."""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from lendshield.crypto.errors import DecryptionFailed
from lendshield.crypto.keys import KeyProvider


def seal(keys: KeyProvider, purpose: str, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(12)
    return nonce + AESGCM(keys.secret(f"seal/{purpose}")).encrypt(nonce, plaintext, aad)


def unseal(keys: KeyProvider, purpose: str, sealed: bytes, aad: bytes) -> bytes:
    if len(sealed) < 28:
        raise DecryptionFailed()
    try:
        return AESGCM(keys.secret(f"seal/{purpose}")).decrypt(sealed[:12], sealed[12:], aad)
    except InvalidTag as exc:
        raise DecryptionFailed() from exc
