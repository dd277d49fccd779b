"""Checking a command's ledger entry against the pinned log key (filled in with the ledger's verifier)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lendshield.devices.protocol import CommandRefused


def verify_command_entry(led: Mapping[str, Any], ledger_key: str) -> None:
    """Verify ``led``'s inclusion proof and checkpoint signature; raise CommandRefused otherwise."""
    raise CommandRefused("this agent cannot yet verify ledger inclusion proofs")
