"""The reference device agent: the phone side of the protocol, as a vendor would implement it.

It keeps a small state file (its own key, the pinned platform keys, the last applied sequence
number and its simulated lock state), checks in over HTTPS by signing with its own key, verifies
every command as docs/device-protocol.md says, applies it, and returns a signed acknowledgement
— of refusals too, with the reason, so the platform's log shows what the phone would not do.

Offline, the agent does nothing on its own: no lock happens on a timer. (An operator could only
enable such a timer by disclosing it in the device notice; this agent has none.) An unreachable
server changes nothing on the phone.

When witness keys are pinned, a command counts as logged only if its checkpoint carries a valid
cosignature by one of them, so a compromised server alone cannot make the phone lock.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from lendshield.crypto.jws import b64url, generate_ed25519_seed, load_ed25519, public_raw, sign_compact
from lendshield.devices.protocol import (
    ACK_TYP,
    ALWAYS_AVAILABLE,
    NEEDS_APPROVAL,
    STATE_AFTER_APPLY,
    Command,
    CommandRefused,
    verify_command,
)
from lendshield.errors import LendShieldError

CHECKIN_TYP = "lendshield-device-checkin"
LedgerCheckFactory = Callable[["AgentState"], Callable[[Mapping[str, Any]], None]]


class AgentError(LendShieldError):
    code = "agent"
    title = "Device agent error"


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class AgentState:
    path: Path
    seed: bytes
    device_id: str = ""
    server: str = ""
    command_keys: dict[str, bytes] = field(default_factory=dict)
    ledger_key: str = ""
    last_seq: int = 0
    lock_state: str = "active"
    history: list[dict[str, Any]] = field(default_factory=list)
    witness_keys: list[str] = field(default_factory=list)
    screen: dict[str, Any] = field(default_factory=dict)
    """What the lock screen shows while locked or restricted (lender contact, how to pay, how to complain)."""
    release_certificate: str = ""

    @classmethod
    def create(cls, path: Path) -> AgentState:
        state = cls(path=path, seed=generate_ed25519_seed())
        state.save()
        return state

    @classmethod
    def load(cls, path: Path) -> AgentState:
        try:
            raw = json.loads(path.read_text())
            return cls(
                path=path,
                seed=_unb64(raw["seed"]),
                device_id=raw["device_id"],
                server=raw["server"],
                command_keys={k: _unb64(v) for k, v in raw["command_keys"].items()},
                ledger_key=raw["ledger_key"],
                last_seq=int(raw["last_seq"]),
                lock_state=raw["lock_state"],
                history=list(raw["history"]),
                witness_keys=[str(k) for k in raw.get("witness_keys", [])],
                screen=dict(raw.get("screen", {})),
                release_certificate=str(raw.get("release_certificate", "")),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise AgentError(f"agent state file unreadable: {path.name}") from exc

    def save(self) -> None:
        data = {
            "seed": b64url(self.seed),
            "device_id": self.device_id,
            "server": self.server,
            "command_keys": {k: b64url(v) for k, v in self.command_keys.items()},
            "ledger_key": self.ledger_key,
            "last_seq": self.last_seq,
            "lock_state": self.lock_state,
            "history": self.history[-200:],
            "witness_keys": self.witness_keys,
            "screen": self.screen,
            "release_certificate": self.release_certificate,
        }
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2)
        os.replace(tmp, self.path)

    @property
    def public_key(self) -> bytes:
        return public_raw(load_ed25519(self.seed))

    def pin(
        self, *, device_id: str, server: str, command_kid: str, command_key: bytes, ledger_key: str, witness_keys: list[str] | None = None
    ) -> None:
        """Enrolment: remember who we are and whom we trust. Only a signed rotation changes this later."""
        self.device_id, self.server, self.ledger_key = device_id, server.rstrip("/"), ledger_key
        self.command_keys = {command_kid: command_key}
        self.witness_keys = list(witness_keys or [])
        self.save()

    def apply(self, cmd: Any) -> None:
        """Change the simulated phone. Locked and restricted keep ALWAYS_AVAILABLE (emergency calls ...)."""
        if cmd.command is Command.ROTATE_KEY:
            # The old key is retired at once: a command it signs from now on is refused.
            self.command_keys = {str(cmd.args["next_kid"]): _unb64(str(cmd.args["next_key"]))}
        if cmd.command in NEEDS_APPROVAL:
            self.screen = {**cmd.args, "always_available": list(ALWAYS_AVAILABLE)}
        elif cmd.command in (Command.UNLOCK, Command.RELEASE):
            self.screen = {}
        if cmd.command is Command.RELEASE:
            self.release_certificate = str(cmd.args.get("certificate", ""))
        self.lock_state = STATE_AFTER_APPLY.get(cmd.command.value, self.lock_state)
        self.last_seq = cmd.seq
        self.history.append({"seq": cmd.seq, "applied": cmd.command.value})
        self.save()


def _ack(state: AgentState, seq: int, result: str, reason: str = "") -> str:
    claims = {"dev": state.device_id, "seq": seq, "result": result, "reason": reason, "iat": int(time.time())}
    return sign_compact(load_ed25519(state.seed), f"dev-{state.device_id}", claims, ACK_TYP)


def sync(
    state: AgentState, client: httpx.Client, ledger_check: Callable[[Mapping[str, Any]], None] | None = None, now: int | None = None
) -> list[str]:
    """One check-in: fetch, verify, apply, acknowledge. Returns what was applied or refused, in order."""
    now = int(time.time()) if now is None else now
    checkin = sign_compact(
        load_ed25519(state.seed), f"dev-{state.device_id}", {"dev": state.device_id, "last_seq": state.last_seq, "iat": now}, CHECKIN_TYP
    )
    try:
        resp = client.post(f"{state.server}/v1/devices/{state.device_id}/checkin", json={"token": checkin})
    except httpx.TransportError as exc:
        # Offline fails in the borrower's favour: nothing on the phone changes until the next check-in.
        raise AgentError("server unreachable; the phone stays as it is") from exc
    if resp.status_code != 200:
        raise AgentError(f"check-in refused by the server ({resp.status_code})")
    outcomes = []
    for item in resp.json().get("commands", []):
        token = str(item.get("token", ""))
        try:
            if state.lock_state == "released":
                raise CommandRefused("released: this phone is no longer under the lender's control")
            cmd = verify_command(
                token,
                keys=state.command_keys,
                device_id=state.device_id,
                last_seq=state.last_seq,
                now=now,
                ledger_check=ledger_check or ledger_check_for(state, item),
            )
        except CommandRefused as exc:
            seq = item.get("seq")
            refusal = {"seq": seq, "refused": exc.detail}
            if refusal not in state.history:  # report each refusal once, not at every check-in
                state.history.append(refusal)
                if isinstance(seq, int) and seq > state.last_seq:
                    client.post(
                        f"{state.server}/v1/devices/{state.device_id}/acks", json={"token": _ack(state, seq, "refused", exc.detail)}
                    )
            outcomes.append(f"refused: {exc.detail}")
            continue
        state.apply(cmd)
        client.post(f"{state.server}/v1/devices/{state.device_id}/acks", json={"token": _ack(state, cmd.seq, "applied")})
        outcomes.append(cmd.command.value)
    state.save()
    return outcomes


def ledger_check_for(state: AgentState, item: Mapping[str, Any] | None = None) -> Callable[[Mapping[str, Any]], None]:
    """Step 11 for one delivered command: its ledger entry, proven included under the pinned log key."""

    def check(led: Mapping[str, Any]) -> None:
        from lendshield.devices.ledger_proof import verify_command_entry

        token = str((item or {}).get("token", ""))
        try:
            command = json.loads(_unb64(token.split(".")[1])).get("cmd", "")  # signature already verified
        except (ValueError, IndexError):
            command = ""
        verify_command_entry(
            led,
            (item or {}).get("proof"),
            ledger_key=state.ledger_key,
            device_id=state.device_id,
            command=command,
            witness_keys=state.witness_keys,
        )

    return check
