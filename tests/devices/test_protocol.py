"""The device command protocol: every refusal the issue lists, and a second JOSE implementation."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import jwt  # PyJWT: a second, independent JOSE implementation
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lendshield.crypto.jws import b64url, public_jwk, public_raw, sign_compact
from lendshield.devices.protocol import COMMAND_TYP, CommandRefused, verify_command

NOW = 1_795_000_000
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
KEYS = {"cmd-1": public_raw(KEY)}
APPROVALS = [hashlib.sha256(b"supervisor").hexdigest(), hashlib.sha256(b"risk").hexdigest()]
LEDGER = {"seq": 41, "leaf_hash": "00" * 32}


def claims(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "v": 1,
        "iss": "lendshield.example",
        "dev": "dev-1",
        "seq": 5,
        "nonce": b64url(b"n" * 16),
        "iat": NOW - 10,
        "exp": NOW + 600,
        "cmd": "lock",
        "args": {"lender_contact": "400-000-0000", "how_to_pay": "in the app", "how_to_complain": "12378"},
        "appr": APPROVALS,
        "led": LEDGER,
    }
    base.update(over)
    return base


def token(key: Ed25519PrivateKey = KEY, kid: str = "cmd-1", **over: Any) -> str:
    return sign_compact(key, kid, claims(**over), COMMAND_TYP)


def accept_ledger(_led: Mapping[str, Any]) -> None:
    return None


def verify(tok: str, *, last_seq: int = 4, device: str = "dev-1", keys: Mapping[str, bytes] = KEYS) -> Any:
    return verify_command(tok, keys=keys, device_id=device, last_seq=last_seq, now=NOW, ledger_check=accept_ledger)


def test_a_good_command_verifies() -> None:
    cmd = verify(token())
    assert cmd.command.value == "lock"
    assert cmd.seq == 5


def test_second_jose_implementation_verifies_our_commands() -> None:
    tok = token()
    key = jwt.algorithms.OKPAlgorithm.from_jwk(public_jwk(public_raw(KEY), "cmd-1"))
    decoded = jwt.api_jws.PyJWS().decode_complete(tok, key=key, algorithms=["EdDSA"])
    assert decoded["header"]["kid"] == "cmd-1"
    assert b'"cmd":"lock"' in decoded["payload"]


@pytest.mark.parametrize(
    ("tok", "why"),
    [
        (token(key=OTHER), "bad signature"),  # forged
        (token(kid="cmd-0"), "unknown or retired signing key"),  # signed by a rotated-out key
        (token(exp=NOW - 1), "expired"),
        (token(dev="dev-2"), "wrong device"),
        (token(seq=4), "replayed or rolled back"),
        (token(seq=3), "replayed or rolled back"),
        (token(cmd="read_contacts"), "unknown command"),
        (token(cmd="wipe"), "unknown command"),
        (token(appr=APPROVALS[:1]), "unapproved"),
        (token(appr=[APPROVALS[0], APPROVALS[0]]), "unapproved"),
        (token(led=None), "no ledger entry"),
        (token(args={"shell": "rm -rf /"}), "unexpected arguments"),
        (token(iat=NOW + 3600), "issued in the future"),
        (token(v=2), "unsupported protocol version"),
        (token(args={"lender_contact": "400-000-0000", "how_to_pay": "app"}), "lock screen incomplete"),
        (token(cmd="restrict", args={"lender_contact": "400", "how_to_pay": "app", "how_to_complain": " "}), "lock screen incomplete"),
        (token(nonce="short"), "missing nonce"),
    ],
)
def test_refusals(tok: str, why: str) -> None:
    with pytest.raises(CommandRefused, match=why):
        verify(tok)


def test_tampered_truncated_and_oversized() -> None:
    tok = token()
    head, _payload, sig = tok.split(".")
    evil = b64url(b'{"v":1,"dev":"dev-1","seq":99,"cmd":"lock"}')
    with pytest.raises(CommandRefused, match="bad signature"):
        verify(f"{head}.{evil}.{sig}")
    with pytest.raises(CommandRefused, match=r"malformed|bad signature"):
        verify(tok[: len(tok) // 2])
    with pytest.raises(CommandRefused, match="oversized"):
        verify(token(args={"lender_contact": "x" * 20_000}))


def test_alg_none_and_other_types_are_refused() -> None:
    unsigned = b64url(b'{"alg":"none","typ":"lendshield-device-command","kid":"cmd-1"}') + "." + b64url(b"{}") + "."
    with pytest.raises(CommandRefused, match="algorithm"):
        verify(unsigned)
    ack = sign_compact(KEY, "cmd-1", claims(), "lendshield-device-ack")
    with pytest.raises(CommandRefused, match="wrong type"):
        verify(ack)


def test_ledger_check_can_refuse() -> None:
    def hidden(_led: Mapping[str, Any]) -> None:
        raise CommandRefused("ledger entry not proven included in a cosigned checkpoint")

    with pytest.raises(CommandRefused, match="cosigned"):
        verify_command(token(), keys=KEYS, device_id="dev-1", last_seq=4, now=NOW, ledger_check=hidden)


def test_unlock_needs_no_approval() -> None:
    assert verify(token(cmd="unlock", appr=[], args={})).command.value == "unlock"
