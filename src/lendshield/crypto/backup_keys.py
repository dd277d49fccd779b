"""Backup encryption in the age format (X25519 recipients), through pyrage.

The backup identity (private key) lives in its own file, never next to the backups or the data,
and is different from the data KEKs, so neither a stolen backup nor a stolen backup key alone
reveals anything.
"""

from __future__ import annotations

import os
from pathlib import Path

import pyrage
from pyrage import x25519

from lendshield.errors import InvalidInput, LendShieldError


class BackupKeyError(LendShieldError):
    status = 400
    code = "backup-key"
    title = "Backup key problem"


class BackupDecryptError(LendShieldError):
    status = 400
    code = "backup-undecryptable"
    title = "Backup cannot be decrypted"

    def __init__(self) -> None:
        # One opaque message: wrong key, truncation and tampering look the same from here.
        super().__init__("the backup could not be decrypted with this identity (wrong key, truncated or altered)")


def generate_identity(path: Path) -> str:
    """Write a new identity file (mode 0600, refuses to overwrite) and return its public recipient."""
    identity = x25519.Identity.generate()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(str(identity) + "\n")
    return str(identity.to_public())


def load_identity(path: Path) -> x25519.Identity:
    try:
        return x25519.Identity.from_str(path.read_text().strip())
    except (OSError, pyrage.IdentityError, ValueError) as exc:
        raise BackupKeyError("the backup identity file is missing or not an age X25519 identity") from exc


def recipient_of(path: Path) -> str:
    return str(load_identity(path).to_public())


def parse_recipient(text: str) -> x25519.Recipient:
    try:
        return x25519.Recipient.from_str(text.strip())
    except (pyrage.RecipientError, ValueError) as exc:
        raise InvalidInput("not an age X25519 recipient (age1...)") from exc


def encrypt_file(src: Path, dst: Path, recipient: str) -> None:
    try:
        pyrage.encrypt_file(str(src), str(dst), [parse_recipient(recipient)])
    except pyrage.EncryptError as exc:
        raise BackupKeyError("backup encryption failed") from exc


def decrypt_file(src: Path, dst: Path, identity: x25519.Identity) -> None:
    try:
        pyrage.decrypt_file(str(src), str(dst), [identity])
    except (pyrage.DecryptError, OSError, ValueError) as exc:
        raise BackupDecryptError() from exc
