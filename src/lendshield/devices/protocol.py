"""The device command protocol, shared by the platform and the reference agent.

A command is a compact JWS (RFC 7515, Ed25519) of type ``lendshield-device-command``. Its claims:

- ``v``     protocol version (1)
- ``iss``   the platform's origin
- ``dev``   the one device the command is for
- ``seq``   per-device sequence number, strictly increasing (no replay, no rollback)
- ``nonce`` 128 random bits, base64url
- ``iat``, ``exp``  issue and expiry times (Unix seconds)
- ``cmd``   one of COMMANDS; there is no command that reads data from the phone, wipes it or runs code
- ``args``  command arguments (only those listed in ARGS for the command)
- ``appr``  SHA-256 digests of the approvals (lock and restrict need at least two)
- ``led``   the command's ledger entry: its sequence number and leaf hash, with the inclusion proof
            and signed checkpoint the agent checks against the pinned ledger key

See docs/device-protocol.md for the verification algorithm step by step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from lendshield.crypto.jws import JwsInvalid, verify_compact

VERSION = 1
COMMAND_TYP = "lendshield-device-command"
ACK_TYP = "lendshield-device-ack"
MAX_COMMAND_BYTES = 16_384
CLOCK_SKEW_S = 300


class Command(StrEnum):
    REMIND = "remind"
    RESTRICT = "restrict"
    LOCK = "lock"
    UNLOCK = "unlock"
    RELEASE = "release"
    ROTATE_KEY = "rotate_key"
    """Announces the platform's next command key, signed by the current one."""


COMMANDS = frozenset(Command)
NEEDS_APPROVAL = frozenset({Command.LOCK, Command.RESTRICT})
ARGS: Mapping[Command, frozenset[str]] = {
    Command.REMIND: frozenset({"message_zh", "message_en", "amount_due", "due_date", "final_notice"}),
    Command.RESTRICT: frozenset({"lender_contact", "how_to_pay", "how_to_complain"}),
    Command.LOCK: frozenset({"lender_contact", "how_to_pay", "how_to_complain"}),
    Command.UNLOCK: frozenset(),
    Command.RELEASE: frozenset({"certificate"}),
    Command.ROTATE_KEY: frozenset({"next_kid", "next_key"}),
}
LOCK_SCREEN = ("lender_contact", "how_to_pay", "how_to_complain")
"""Arguments every lock and restrict carries, shown on the lock screen."""
ALWAYS_AVAILABLE = (
    "emergency calls",
    "incoming calls",
    "the lender's payment and contact screen",
    "settings needed to pay (network, Wi-Fi, date and time)",
)
"""What a locked or restricted phone always keeps (stated in the device notice and on the lock screen)."""


STATE_AFTER_APPLY: Mapping[str, str] = {"lock": "locked", "restrict": "restricted", "unlock": "active", "release": "released"}
"""The device's state after applying each command (reminders and key rotation leave it as it was)."""


class CommandRefused(JwsInvalid):
    code = "device-command-refused"
    title = "Device command refused"


@dataclass(frozen=True, slots=True)
class VerifiedCommand:
    kid: str
    device_id: str
    seq: int
    command: Command
    args: dict[str, Any]
    approvals: list[str]
    issued_at: int
    expires_at: int
    ledger: dict[str, Any]


LedgerCheck = Callable[[Mapping[str, Any]], None]
"""Checks the ``led`` claim (inclusion proof to a checkpoint under the pinned ledger key); raises to refuse."""


def _int(claims: Mapping[str, Any], name: str) -> int:
    value = claims.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise CommandRefused(f"malformed: claim {name!r} must be a non-negative integer")
    return value


def verify_command(
    token: str,
    *,
    keys: Mapping[str, bytes],
    device_id: str,
    last_seq: int,
    now: int,
    ledger_check: LedgerCheck,
) -> VerifiedCommand:
    """The agent's verification, in the order of docs/device-protocol.md. Raises CommandRefused(reason)."""
    try:
        header, claims = verify_compact(token, keys, COMMAND_TYP, MAX_COMMAND_BYTES)
    except CommandRefused:
        raise
    except JwsInvalid as exc:
        raise CommandRefused(exc.detail) from exc
    if claims.get("v") != VERSION:
        raise CommandRefused(f"unsupported protocol version {claims.get('v')!r}")
    if claims.get("dev") != device_id:
        raise CommandRefused("wrong device: the command is bound to another device")
    try:
        command = Command(str(claims.get("cmd")))
    except ValueError as exc:
        raise CommandRefused(f"unknown command {claims.get('cmd')!r}") from exc
    args = claims.get("args", {})
    if not isinstance(args, dict) or not set(args) <= ARGS[command]:
        raise CommandRefused(f"unexpected arguments for {command.value}")
    if command in NEEDS_APPROVAL and not all(isinstance(args.get(k), str) and args[k].strip() for k in LOCK_SCREEN):
        # The borrower must always see whom to call, how to pay and how to complain.
        raise CommandRefused(f"lock screen incomplete: {command.value} must carry {', '.join(LOCK_SCREEN)}")
    issued, expires, seq = _int(claims, "iat"), _int(claims, "exp"), _int(claims, "seq")
    if expires <= now:
        raise CommandRefused("expired")
    if issued > now + CLOCK_SKEW_S:
        raise CommandRefused("issued in the future")
    if seq <= last_seq:
        raise CommandRefused(f"replayed or rolled back: sequence {seq} is not after {last_seq}")
    nonce = claims.get("nonce")
    if not isinstance(nonce, str) or len(nonce) < 16:
        raise CommandRefused("malformed: missing nonce")
    approvals = claims.get("appr", [])
    if not isinstance(approvals, list) or not all(isinstance(a, str) and len(a) == 64 for a in approvals):
        raise CommandRefused("malformed: approvals must be SHA-256 hex digests")
    if command in NEEDS_APPROVAL and len(set(approvals)) < 2:
        raise CommandRefused(f"unapproved: {command.value} needs two distinct approvals")
    led = claims.get("led")
    if not isinstance(led, dict):
        raise CommandRefused("no ledger entry: every command must be logged before it is applied")
    ledger_check(led)
    return VerifiedCommand(
        kid=str(header["kid"]),
        device_id=device_id,
        seq=seq,
        command=command,
        args=args,
        approvals=approvals,
        issued_at=issued,
        expires_at=expires,
        ledger=led,
    )
