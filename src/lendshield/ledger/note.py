"""C2SP tlog-checkpoint bodies, signed notes and cosignature/v1 lines, as pure functions.

Formats: https://c2sp.org/tlog-checkpoint, https://c2sp.org/signed-note,
https://c2sp.org/tlog-cosignature. No database here: the offline verifier uses this module.
"""

from __future__ import annotations

import base64
import binascii
import struct
from dataclasses import dataclass

from lendshield.crypto import signing
from lendshield.ledger.merkle import HASH_SIZE

EM_DASH = "\u2014"


class NoteError(ValueError):
    """A checkpoint, note or signature is malformed or does not verify; the message says which."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def body(self) -> str:
        """tlog-checkpoint: origin, decimal size, base64 root hash, each line ending in newline."""
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"


def parse_checkpoint_body(body: str) -> Checkpoint:
    lines = body.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise NoteError("checkpoint body must have origin, size and root lines, each ending in a newline")
    origin, size_text, root_text = lines[0], lines[1], lines[2]
    if not origin:
        raise NoteError("checkpoint origin is empty")
    if not size_text.isdigit() or (len(size_text) > 1 and size_text[0] == "0"):
        raise NoteError("checkpoint size is not a decimal number without leading zeros")
    try:
        root = base64.b64decode(root_text, validate=True)
    except binascii.Error as exc:
        raise NoteError("checkpoint root is not base64") from exc
    if len(root) != HASH_SIZE:
        raise NoteError("checkpoint root is not a 32-byte hash")
    return Checkpoint(origin, int(size_text), root)


@dataclass(frozen=True, slots=True)
class SignatureLine:
    name: str
    key_id: bytes
    signature: bytes


def split_note(note: str) -> tuple[str, list[SignatureLine]]:
    """signed-note: the text up to the last blank line, then signature lines ``— <name> <b64>``."""
    sep = note.rfind("\n\n")
    if sep < 0 or not note.endswith("\n"):
        raise NoteError("signed note has no blank line before its signatures")
    body = note[: sep + 1]
    sigs: list[SignatureLine] = []
    for line in note[sep + 2 : -1].split("\n"):
        prefix = EM_DASH + " "
        if not line.startswith(prefix):
            raise NoteError("signature line does not start with an em dash and a space")
        parts = line[len(prefix) :].split(" ")
        if len(parts) != 2 or not parts[0]:
            raise NoteError("signature line must be '— <name> <base64>'")
        try:
            raw = base64.b64decode(parts[1], validate=True)
        except binascii.Error as exc:
            raise NoteError("signature is not base64") from exc
        if len(raw) < 5:
            raise NoteError("signature is too short")
        sigs.append(SignatureLine(parts[0], raw[:4], raw[4:]))
    if not sigs:
        raise NoteError("signed note has no signatures")
    return body, sigs


def signature_line(name: str, key_id: bytes, signature: bytes) -> str:
    return f"{EM_DASH} {name} {base64.b64encode(key_id + signature).decode()}\n"


def verify_note(note: str, verifier_key: str) -> Checkpoint:
    """Check the log's Ed25519 signature on a checkpoint note; return the checkpoint."""
    try:
        name, public, alg = signing.parse_verifier_key(verifier_key)
    except signing.BadKey as exc:
        raise NoteError(str(exc)) from exc
    if alg != signing.ALG_ED25519:
        raise NoteError("log key is not an Ed25519 signed-note key")
    body, sigs = split_note(note)
    kid = signing.key_id(name, alg, public)
    mine = [s for s in sigs if s.name == name and s.key_id == kid]
    if not mine:
        raise NoteError(f"checkpoint carries no signature by the log key {name}")
    if not any(signing.verify(public, s.signature, body.encode()) for s in mine):
        raise NoteError("the log's signature on the checkpoint does not verify")
    cp = parse_checkpoint_body(body)
    if cp.origin != name:
        raise NoteError("checkpoint origin differs from the log key name")
    return cp


def cosigned_message(body: str, timestamp: int) -> bytes:
    """tlog-cosignature: ``cosignature/v1\\ntime <t>\\n`` followed by the checkpoint body."""
    return f"cosignature/v1\ntime {timestamp}\n".encode() + body.encode()


def unpack_cosignature(raw: bytes) -> tuple[int, bytes]:
    """cosignature/v1 signature bytes after the key id: 8-byte big-endian timestamp || Ed25519 sig."""
    if len(raw) != 72:
        raise NoteError("cosignature must be 8 timestamp bytes and a 64-byte signature")
    (ts,) = struct.unpack(">Q", raw[:8])
    return ts, raw[8:]


def verify_cosignature(body: str, line: SignatureLine, witness_key: str) -> int:
    """Check one cosignature/v1 line against a witness verifier key; return its timestamp."""
    try:
        name, public, alg = signing.parse_verifier_key(witness_key)
    except signing.BadKey as exc:
        raise NoteError(str(exc)) from exc
    if alg != signing.ALG_COSIGNATURE_V1:
        raise NoteError("witness key is not a cosignature/v1 key")
    if line.name != name or line.key_id != signing.key_id(name, alg, public):
        raise NoteError("cosignature is not by this witness key")
    ts, sig = unpack_cosignature(line.signature)
    if not signing.verify(public, sig, cosigned_message(body, ts)):
        raise NoteError("cosignature does not verify")
    return ts
