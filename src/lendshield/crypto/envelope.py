"""Envelope encryption of personal fields.

Each data subject has one AES-256-GCM data key (DEK), wrapped by the current KEK. Every field
ciphertext is bound by associated data to its subject, field and value version, so a ciphertext
copied to another row or field fails to decrypt. Format: ``0x01 || nonce(12) || ciphertext+tag``.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from lendshield.crypto.errors import DecryptionFailed
from lendshield.crypto.keys import KeyProvider

FORMAT_V1 = 1
_NONCE = 12


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def _dek_aad(subject_id: str) -> bytes:
    return b"lendshield/dek/v1|" + subject_id.encode()


def _field_aad(subject_id: str, field: str, value_version: int) -> bytes:
    return f"lendshield/field/v{FORMAT_V1}|{subject_id}|{field}|{value_version}".encode()


def _record_aad(subject_id: str, label: str) -> bytes:
    return f"lendshield/record/v{FORMAT_V1}|{subject_id}|{label}".encode()


def wrap_data_key(provider: KeyProvider, subject_id: str, dek: bytes) -> tuple[str, bytes]:
    return provider.wrap(dek, _dek_aad(subject_id))


def unwrap_data_key(provider: KeyProvider, subject_id: str, kek_version: str, wrapped: bytes) -> bytes:
    return provider.unwrap(kek_version, wrapped, _dek_aad(subject_id))


class FieldCipher:
    """Encrypts and decrypts one subject's fields with its unwrapped data key."""

    __slots__ = ("_aead", "_subject_id")

    def __init__(self, subject_id: str, dek: bytes) -> None:
        self._subject_id = subject_id
        self._aead = AESGCM(dek)

    def encrypt(self, field: str, value_version: int, plaintext: str) -> bytes:
        nonce = os.urandom(_NONCE)
        aad = _field_aad(self._subject_id, field, value_version)
        return bytes([FORMAT_V1]) + nonce + self._aead.encrypt(nonce, plaintext.encode(), aad)

    def decrypt(self, field: str, value_version: int, blob: bytes) -> str:
        if len(blob) < 1 + _NONCE + 16 or blob[0] != FORMAT_V1:
            raise DecryptionFailed()
        aad = _field_aad(self._subject_id, field, value_version)
        try:
            return self._aead.decrypt(blob[1 : 1 + _NONCE], blob[1 + _NONCE :], aad).decode()
        except (InvalidTag, UnicodeDecodeError) as exc:
            raise DecryptionFailed() from exc

    def seal(self, label: str, data: bytes) -> bytes:
        """Encrypt a record about this subject (a recording, an outbox message) bound to ``label``.

        Under the subject's own data key, so crypto-shredding the subject destroys it too.
        """
        nonce = os.urandom(_NONCE)
        return bytes([FORMAT_V1]) + nonce + self._aead.encrypt(nonce, data, _record_aad(self._subject_id, label))

    def open(self, label: str, blob: bytes) -> bytes:
        if len(blob) < 1 + _NONCE + 16 or blob[0] != FORMAT_V1:
            raise DecryptionFailed()
        try:
            return self._aead.decrypt(blob[1 : 1 + _NONCE], blob[1 + _NONCE :], _record_aad(self._subject_id, label))
        except InvalidTag as exc:
            raise DecryptionFailed() from exc
