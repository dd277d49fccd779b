"""Ed25519 helpers for signed notes (C2SP signed-note) and witness cosignatures (C2SP tlog-cosignature).

Only ``crypto`` imports ``cryptography``; the ledger calls these with raw bytes.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

# C2SP signed-note: signature type bytes identifying the algorithm.
ALG_ED25519 = 0x01
ALG_COSIGNATURE_V1 = 0x04


class BadKey(ValueError):
    """A verifier key string is malformed."""


def public_bytes(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def generate() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_from_seed(seed: bytes) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(seed)


def private_seed(key: Ed25519PrivateKey) -> bytes:
    from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

    return key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


def sign(key: Ed25519PrivateKey, message: bytes) -> bytes:
    return key.sign(message)


def verify(public: bytes, signature: bytes, message: bytes) -> bool:
    """True when ``signature`` is a valid Ed25519 signature of ``message`` under ``public``."""
    if len(public) != 32 or len(signature) != 64:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def key_id(name: str, alg: int, public: bytes) -> bytes:
    """C2SP signed-note: key ID = first 4 bytes of SHA-256(name || 0x0A || alg || public key)."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([alg]) + public).digest()[:4]


def verifier_key(name: str, public: bytes, alg: int = ALG_ED25519) -> str:
    """The verifier key text ``<name>+<hex key id>+<base64(alg || public key)>``."""
    return f"{name}+{key_id(name, alg, public).hex()}+{base64.b64encode(bytes([alg]) + public).decode()}"


def parse_verifier_key(text: str) -> tuple[str, bytes, int]:
    """(name, public key, alg) from a verifier key; raises BadKey saying what is wrong."""
    parts = text.strip().split("+", 2)
    if len(parts) != 3 or not parts[0]:
        raise BadKey("verifier key must be <name>+<key id hex>+<base64 key>")
    name, kid_hex, b64 = parts
    try:
        raw = base64.b64decode(b64, validate=True)
        kid = bytes.fromhex(kid_hex)
    except ValueError as exc:
        raise BadKey("verifier key has bad hex or base64") from exc
    if len(raw) != 33 or raw[0] not in (ALG_ED25519, ALG_COSIGNATURE_V1):
        raise BadKey("verifier key is not an Ed25519 key")
    if key_id(name, raw[0], raw[1:]) != kid:
        raise BadKey("verifier key id does not match its name and key")
    return name, raw[1:], raw[0]


def sign_note_line(key: Ed25519PrivateKey, name: str, body: str) -> tuple[bytes, bytes]:
    """(key id, signature) for a signed-note Ed25519 signature over the note text ``body``."""
    return key_id(name, ALG_ED25519, public_bytes(key)), key.sign(body.encode())


def cosign(key: Ed25519PrivateKey, name: str, body: str, timestamp: int) -> tuple[bytes, bytes]:
    """(key id, 8-byte timestamp || signature) for a C2SP cosignature/v1 over checkpoint ``body``."""
    message = f"cosignature/v1\ntime {timestamp}\n".encode() + body.encode()
    return key_id(name, ALG_COSIGNATURE_V1, public_bytes(key)), timestamp.to_bytes(8, "big") + key.sign(message)
