"""Compact JWS signing: the same bytes joserfc produces, verified by a second implementation (PyJWT)."""

from __future__ import annotations

import json
import warnings
from typing import Any

import jwt  # PyJWT: an independent JOSE implementation
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from joserfc import jws as joserfc_jws
from joserfc.jwk import OKPKey

from lendshield.crypto.jws import JwsInvalid, b64url, public_jwk, public_raw, sign_compact, unb64url, verify_compact

# RFC 8032 §7.1 test 1
RFC8032_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
KEY = Ed25519PrivateKey.from_private_bytes(RFC8032_SEED)
TYP = "lendshield-device-command"
CLAIMS: list[dict[str, Any]] = [
    {},
    {"v": 1, "dev": "d-1", "seq": 7, "cmd": "lock", "args": {"how_to_pay": "在应用内还款"}, "appr": ["ab" * 32, "cd" * 32]},
    {"z": None, "a": [1, 2.5, True], "m": {"y": "é", "b": ""}},
]


def joserfc_token(key: Ed25519PrivateKey, kid: str, claims: dict[str, Any], typ: str) -> str:
    """What joserfc makes of the same header, canonical payload and key."""
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    seed = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    okp = OKPKey.import_key({"kty": "OKP", "crv": "Ed25519", "d": b64url(seed), "x": b64url(public_raw(key))})
    payload = json.dumps(claims, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return joserfc_jws.serialize_compact({"alg": "EdDSA", "kid": kid, "typ": typ}, payload, okp, algorithms=["EdDSA"])


@pytest.mark.parametrize("claims", CLAIMS)
def test_tokens_are_byte_for_byte_what_joserfc_signs(claims: dict[str, Any]) -> None:
    assert sign_compact(KEY, "cmd-1", claims, TYP) == joserfc_token(KEY, "cmd-1", claims, TYP)


@pytest.mark.parametrize("claims", CLAIMS)
def test_tokens_are_byte_for_byte_what_pyjwt_signs(claims: dict[str, Any]) -> None:
    payload = json.dumps(claims, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    theirs = jwt.api_jws.PyJWS().encode(payload, KEY, algorithm="EdDSA", headers={"kid": "cmd-1", "typ": TYP})
    assert sign_compact(KEY, "cmd-1", claims, TYP) == theirs


def test_another_key_gives_another_signature_and_the_same_signing_input() -> None:
    other = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    mine, theirs = sign_compact(KEY, "cmd-1", CLAIMS[1], TYP), sign_compact(other, "cmd-1", CLAIMS[1], TYP)
    assert mine.rsplit(".", 1)[0] == theirs.rsplit(".", 1)[0]
    assert mine != theirs
    assert theirs == joserfc_token(other, "cmd-1", CLAIMS[1], TYP)


@pytest.mark.parametrize("claims", CLAIMS)
def test_pyjwt_verifies_and_reads_the_same_header_and_claims(claims: dict[str, Any]) -> None:
    token = sign_compact(KEY, "cmd-9", claims, TYP)
    key = jwt.PyJWK(public_jwk(public_raw(KEY), "cmd-9"))
    decoded = jwt.api_jws.PyJWS().decode_complete(token, key=key, algorithms=["EdDSA"])
    assert decoded["header"] == {"alg": "EdDSA", "kid": "cmd-9", "typ": TYP}
    assert json.loads(decoded["payload"]) == claims


def test_pyjwt_refuses_a_signature_under_another_key() -> None:
    token = sign_compact(KEY, "cmd-1", CLAIMS[1], TYP)
    wrong = jwt.PyJWK(public_jwk(public_raw(Ed25519PrivateKey.generate()), "cmd-1"))
    with pytest.raises(jwt.exceptions.InvalidSignatureError):
        jwt.api_jws.PyJWS().decode_complete(token, key=wrong, algorithms=["EdDSA"])


def test_our_verifier_round_trips_and_refuses_a_replaced_payload() -> None:
    token = sign_compact(KEY, "cmd-1", CLAIMS[1], TYP)
    header, claims = verify_compact(token, {"cmd-1": public_raw(KEY)}, TYP)
    assert header["kid"] == "cmd-1"
    assert claims == CLAIMS[1]
    head, _, sig = token.split(".")
    forged = f"{head}.{b64url(json.dumps({**CLAIMS[1], 'cmd': 'unlock'}).encode())}.{sig}"
    with pytest.raises(JwsInvalid, match="bad signature"):
        verify_compact(forged, {"cmd-1": public_raw(KEY)}, TYP)


def test_the_signature_is_ed25519_over_the_signing_input() -> None:
    token = sign_compact(KEY, "cmd-1", CLAIMS[1], TYP)
    signing_input, _, sig = token.rpartition(".")
    KEY.public_key().verify(unb64url(sig), signing_input.encode())  # raises if not
    assert len(unb64url(sig)) == 64
