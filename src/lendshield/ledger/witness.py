"""A witness (C2SP tlog-witness ideas, cosignature/v1 format) run by an auditor, away from the log.

It keeps the last checkpoint it cosigned in a state file, checks that the log's new checkpoint
is consistent with it (RFC 9162 §2.1.4), cosigns and posts the cosignature back. A fork is
reported and never cosigned. No database here.
"""

from __future__ import annotations

import base64
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lendshield.crypto import signing
from lendshield.ledger import merkle, note


class Fork(Exception):
    """The log showed two different trees: two roots for one size, or a shrinking size."""


@dataclass
class WitnessKey:
    name: str
    seed: bytes

    @classmethod
    def load(cls, path: Path) -> WitnessKey:
        data = json.loads(path.read_text())
        return cls(str(data["name"]), base64.b64decode(data["seed"], validate=True))

    @classmethod
    def create(cls, path: Path, name: str) -> WitnessKey:
        key = cls(name, signing.private_seed(signing.generate()))
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"name": name, "seed": base64.b64encode(key.seed).decode()}, fh)
        return key

    def verifier_key(self) -> str:
        pub = signing.public_bytes(signing.private_from_seed(self.seed))
        return signing.verifier_key(self.name, pub, signing.ALG_COSIGNATURE_V1)


def check_and_cosign(
    checkpoint_note: str, log_key: str, state: dict[str, Any] | None, fetch_proof: Any, key: WitnessKey, now: int | None = None
) -> tuple[str, dict[str, Any]]:
    """Verify, check consistency with ``state`` and return (cosignature line, new state). Raises Fork."""
    cp = note.verify_note(checkpoint_note, log_key)
    if state:
        old_size, old_root = int(state["size"]), base64.b64decode(state["root"])
        if cp.size < old_size:
            raise Fork(f"FORK: log shrank from size {old_size} to {cp.size}")
        if cp.size == old_size and cp.root != old_root:
            raise Fork(f"FORK: two different roots for size {cp.size}")
        if cp.size > old_size > 0:
            proof = [base64.b64decode(h) for h in fetch_proof(old_size, cp.size)]
            try:
                merkle.verify_consistency(old_size, cp.size, old_root, cp.root, proof)
            except merkle.ProofError as exc:
                raise Fork(f"FORK: size {cp.size} is not consistent with size {old_size}: {exc}") from exc
    ts = int(time.time()) if now is None else now
    kid, sig = signing.cosign(signing.private_from_seed(key.seed), key.name, cp.body(), ts)
    line = note.signature_line(key.name, kid, sig)
    return line, {"size": cp.size, "root": base64.b64encode(cp.root).decode()}
