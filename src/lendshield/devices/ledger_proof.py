"""Step 11 of command verification: the command's ledger entry is in a checkpoint the log signed.

The platform sends, with each command, the entry's canonical body, its inclusion proof and the
signed checkpoint note. The agent checks that the body describes this very command (action
``device.command`` on this device, the command's name and ledger sequence number), that its leaf
hash is included in the checkpoint's tree (RFC 9162 §2.1.3), and that the checkpoint is signed by
the pinned log key (C2SP signed-note). A platform that hides a command from the log cannot get a
phone to act on it.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from typing import Any

from lendshield.devices.protocol import CommandRefused
from lendshield.ledger import merkle
from lendshield.ledger.note import NoteError, split_note, verify_cosignature, verify_note


def verify_command_entry(
    led: Mapping[str, Any],
    proof: Mapping[str, Any] | None,
    *,
    ledger_key: str,
    device_id: str,
    command: str,
    witness_keys: Sequence[str] = (),
) -> None:
    """Refuse unless the command's entry is in a checkpoint signed by the log and, when the device
    pins witness keys, cosigned by at least one of them (a server alone cannot get that)."""
    if not ledger_key:
        raise CommandRefused("no ledger key pinned: cannot check that the command was logged")
    if not isinstance(proof, Mapping):
        raise CommandRefused("ledger entry not proven included in a signed checkpoint")
    try:
        cp = verify_note(str(proof["checkpoint"]), ledger_key)
    except (NoteError, KeyError) as exc:
        raise CommandRefused(f"checkpoint refused: {exc}") from exc
    if witness_keys:
        _require_cosignature(str(proof["checkpoint"]), witness_keys)
    body = proof.get("body")
    if not isinstance(body, str):
        raise CommandRefused("ledger proof carries no entry body")
    try:
        entry = json.loads(body)
        hashes = [base64.b64decode(h, validate=True) for h in proof["inclusion_proof"]]
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise CommandRefused("ledger proof is malformed") from exc
    if entry.get("seq") != led.get("seq") or entry.get("action") != "device.command":
        raise CommandRefused("the ledger entry is not this command's entry")
    if entry.get("object") != f"device:{device_id}" or entry.get("decision") != command:
        raise CommandRefused("the ledger entry records a different device or command")
    try:
        merkle.verify_inclusion(int(entry["seq"]), cp.size, merkle.leaf_hash(body.encode()), hashes, cp.root)
    except (merkle.ProofError, ValueError) as exc:
        raise CommandRefused(f"inclusion proof does not verify: {exc}") from exc


def _require_cosignature(checkpoint: str, witness_keys: Sequence[str]) -> None:
    # A compromised server can sign any checkpoint, including one that leaves out the entry it
    # hides from auditors; a witness cosigns only a tree consistent with what it saw before.
    body, sigs = split_note(checkpoint)
    for key in witness_keys:
        name = key.split("+", 1)[0]
        for line in sigs:
            if line.name != name:
                continue
            try:
                verify_cosignature(body, line, key)
                return
            except NoteError:
                continue
    raise CommandRefused("checkpoint not cosigned by a pinned witness")
