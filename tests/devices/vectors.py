"""Generate the device-command test vectors in tests/vectors/device-commands.json.

Run `python -m tests.devices.vectors` to rewrite the file; the test suite checks that the file is
exactly what this generates, and that our verifier gives every expected verdict. A device vendor
checks their own verifier against the same file.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lendshield.crypto.jws import b64url, public_raw, sign_compact
from lendshield.devices.protocol import COMMAND_TYP

PATH = Path(__file__).resolve().parent.parent / "vectors" / "device-commands.json"
NOW = 1_795_000_000
COMMAND_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")  # RFC 8032 §7.1 test 1
ROGUE_SEED = bytes(range(32))
APPROVALS = [hashlib.sha256(b"approval:supervisor").hexdigest(), hashlib.sha256(b"approval:risk").hexdigest()]


def _claims(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "v": 1,
        "iss": "lendshield.example/log",
        "dev": "device-0001",
        "seq": 7,
        "nonce": b64url(b"vector-nonce-001"),
        "iat": NOW - 60,
        "exp": NOW + 900,
        "cmd": "lock",
        "args": {"lender_contact": "400-000-0000", "how_to_pay": "app", "how_to_complain": "12378"},
        "appr": APPROVALS,
        "led": {"seq": 1234, "leaf_hash": "ab" * 32},
    }
    base.update(over)
    return base


def generate() -> dict[str, Any]:
    key = Ed25519PrivateKey.from_private_bytes(COMMAND_SEED)
    rogue = Ed25519PrivateKey.from_private_bytes(ROGUE_SEED)

    def sign(k: Ed25519PrivateKey = key, kid: str = "cmd-1", **over: Any) -> str:
        return sign_compact(k, kid, _claims(**over), COMMAND_TYP)

    good = sign()
    head, _, sig = good.split(".")
    cases = [
        ("lock, two approvals", good, None),
        ("unlock, no approval needed", sign(cmd="unlock", args={}, appr=[], seq=8), None),
        ("remind", sign(cmd="remind", args={"message_zh": "您的账单将于3日后到期"}, appr=[], seq=9), None),
        ("signed by another key", sign(k=rogue), "bad signature"),
        ("signed by a rotated-out key id", sign(kid="cmd-0"), "unknown or retired signing key"),
        ("payload replaced", f"{head}.{b64url(json.dumps(_claims(seq=99)).encode())}.{sig}", "bad signature"),
        ("expired", sign(exp=NOW - 1), "expired"),
        ("for another device", sign(dev="device-0002"), "wrong device"),
        ("replayed sequence", sign(seq=6), "replayed or rolled back"),
        ("unknown command", sign(cmd="read_location"), "unknown command"),
        ("one approval only", sign(appr=APPROVALS[:1]), "unapproved"),
        ("no ledger entry", sign(led=None), "no ledger entry"),
        ("rolled back to an older sequence", sign(seq=2), "replayed or rolled back"),
        ("truncated", good[: len(good) // 2], "malformed|bad signature"),
        ("oversized", sign(args={"lender_contact": "x" * 17_000, "how_to_pay": "app", "how_to_complain": "12378"}), "oversized"),
        ("lock screen incomplete", sign(args={"lender_contact": "400-000-0000"}), "lock screen incomplete"),
        ("the same approval twice", sign(appr=[APPROVALS[0], APPROVALS[0]]), "unapproved"),
        (
            "alg none",
            f"{b64url(json.dumps({'alg': 'none', 'typ': COMMAND_TYP, 'kid': 'cmd-1'}).encode())}.{good.split('.')[1]}.",
            "algorithm",
        ),
        ("an acknowledgement, not a command", sign_compact(key, "cmd-1", _claims(), "lendshield-device-ack"), "wrong type"),
        ("read command (not in the closed set)", sign(cmd="read_contacts", args={}), "unknown command"),
        (
            "key rotation, signed by the current key",
            sign(cmd="rotate_key", args={"next_kid": "cmd-2", "next_key": b64url(public_raw(rogue))}, appr=[], seq=10),
            None,
        ),
    ]
    return {
        "description": "LendShield device-command vectors: verify each with the context; expect accept or the refusal reason.",
        "context": {"device_id": "device-0001", "last_seq": 6, "now": NOW, "keys": {"cmd-1": public_raw(key).hex()}},
        "command_key_seed_hex": COMMAND_SEED.hex(),
        "vectors": [{"name": n, "token": t, "expect": "accept" if why is None else "refuse", "reason": why} for n, t, why in cases],
    }


def render() -> str:
    return json.dumps(generate(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    PATH.write_text(render(), encoding="utf-8")
