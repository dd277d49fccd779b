"""Compact JWS (RFC 7515) signed with Ed25519, for device commands and acknowledgements.

The algorithm name is "EdDSA" (RFC 8037). RFC 9864 prefers the fully-specified "Ed25519", but the
JOSE stacks on phones and most libraries still know only "EdDSA"; the signature bytes are the
same, so switching the name later is a header change, not a new scheme.
"""

from __future__ import annotations

import base64
import functools
import json
import warnings
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey

from lendshield.errors import LendShieldError

ALG = "EdDSA"


class JwsInvalid(LendShieldError):
    status = 400
    code = "jws-invalid"
    title = "Signed message refused"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def generate_ed25519_seed() -> bytes:
    from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

    return Ed25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


def load_ed25519(seed: bytes) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_raw(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return pub.public_bytes(Encoding.Raw, PublicFormat.Raw)


def public_jwk(raw: bytes, kid: str) -> dict[str, str]:
    return {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw), "kid": kid}


def canonical_claims(claims: Mapping[str, Any]) -> bytes:
    return json.dumps(claims, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@functools.lru_cache(maxsize=256)
def _header_b64(kid: str, typ: str) -> str:
    # The serialisation joserfc uses (and so did our tokens before): ASCII JSON, no spaces, in
    # this order. Changing it would change every token's bytes, not their meaning. Cached: a
    # header holds only public names (no key material), and there are few of them.
    return b64url(json.dumps({"alg": ALG, "kid": kid, "typ": typ}, ensure_ascii=True, separators=(",", ":")).encode("ascii"))


def sign_compact(key: Ed25519PrivateKey, kid: str, claims: Mapping[str, Any], typ: str) -> str:
    """``BASE64URL(header) . BASE64URL(payload) . BASE64URL(Ed25519(signing input))`` (RFC 7515 §7.1).

    Signed with pyca/cryptography directly: the key is used as it is, never re-imported or copied
    into another library's key object per call. Ed25519 is deterministic, so the token is
    byte-for-byte the one joserfc produces for the same header, claims and key (tested), and a
    second JOSE implementation (PyJWT in the tests) verifies it.
    """
    signing_input = f"{_header_b64(kid, typ)}.{b64url(canonical_claims(claims))}"
    return f"{signing_input}.{b64url(key.sign(signing_input.encode('ascii')))}"


def peek_header(token: str) -> dict[str, Any]:
    """The protected header, unverified (to choose the key); never trust it beyond that."""
    try:
        header = json.loads(unb64url(token.split(".", 1)[0]))
    except (ValueError, UnicodeDecodeError) as exc:
        raise JwsInvalid("malformed: the header is not base64url JSON") from exc
    if not isinstance(header, dict):
        raise JwsInvalid("malformed: the header is not a JSON object")
    return header


def verify_compact(token: str, keys: Mapping[str, bytes], typ: str, max_bytes: int = 16_384) -> tuple[dict[str, Any], dict[str, Any]]:
    """Verify against the key named by ``kid`` among ``keys`` (kid -> raw Ed25519 public key).

    Returns (header, claims). Every refusal says which check failed.
    """
    if len(token) > max_bytes:
        raise JwsInvalid(f"oversized: {len(token)} bytes > {max_bytes}")
    if token.count(".") != 2:
        raise JwsInvalid("malformed: a compact JWS has three dot-separated parts")
    header = peek_header(token)
    if header.get("alg") != ALG:
        raise JwsInvalid(f"algorithm {header.get('alg')!r} is not accepted (only {ALG})")
    if header.get("typ") != typ:
        raise JwsInvalid(f"wrong type {header.get('typ')!r}, expected {typ!r}")
    kid = header.get("kid")
    raw = keys.get(kid) if isinstance(kid, str) else None
    if raw is None:
        raise JwsInvalid(f"unknown or retired signing key {kid!r}")
    public = OKPKey.import_key(public_jwk(raw, kid))  # type: ignore[arg-type]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            obj = jws.deserialize_compact(token, public, algorithms=[ALG])
    except (JoseError, ValueError) as exc:
        raise JwsInvalid("bad signature") from exc
    try:
        claims = json.loads(obj.payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise JwsInvalid("malformed: the payload is not JSON") from exc
    if not isinstance(claims, dict):
        raise JwsInvalid("malformed: the payload is not a JSON object")
    return header, claims
