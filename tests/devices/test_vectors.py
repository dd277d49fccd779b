"""The published device-command vectors are current and our verifier agrees with every one."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import jwt  # PyJWT: a second, independent JOSE implementation
import pytest

from lendshield.crypto.jws import public_jwk
from lendshield.devices.protocol import CommandRefused, verify_command
from tests.devices.vectors import PATH, render

VECTORS = json.loads(PATH.read_text(encoding="utf-8"))


def test_vector_file_is_what_the_generator_writes() -> None:
    assert PATH.read_text(encoding="utf-8") == render()


def _no_ledger_check(_led: Mapping[str, Any]) -> None:
    return None


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=[v["name"] for v in VECTORS["vectors"]])
def test_vector(vector: dict[str, Any]) -> None:
    ctx = VECTORS["context"]
    keys = {kid: bytes.fromhex(raw) for kid, raw in ctx["keys"].items()}

    def run() -> object:
        return verify_command(
            vector["token"], keys=keys, device_id=ctx["device_id"], last_seq=ctx["last_seq"], now=ctx["now"], ledger_check=_no_ledger_check
        )

    if vector["expect"] == "accept":
        run()
    else:
        with pytest.raises(CommandRefused, match=vector["reason"]):
            run()


def test_a_second_jose_implementation_agrees_on_the_signatures() -> None:
    """PyJWT (not the joserfc that signed) accepts every well-signed vector and refuses forgeries."""
    pub = jwt.algorithms.OKPAlgorithm.from_jwk(public_jwk(bytes.fromhex(VECTORS["context"]["keys"]["cmd-1"]), "cmd-1"))
    for vector in VECTORS["vectors"]:
        if vector["reason"] in ("bad signature", "malformed|bad signature"):
            with pytest.raises(jwt.exceptions.PyJWTError):
                jwt.api_jws.PyJWS().decode_complete(vector["token"], key=pub, algorithms=["EdDSA"])
        elif vector["reason"] not in ("algorithm", "unknown or retired signing key", "oversized"):
            decoded = jwt.api_jws.PyJWS().decode_complete(vector["token"], key=pub, algorithms=["EdDSA"])
            assert json.loads(decoded["payload"])["dev"]
