"""Command-key rotation: a new key becomes current, and each phone is told under the key it trusts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lendshield.crypto.jws import b64url, public_raw
from lendshield.devices.models import CommandRow, DeviceRow
from lendshield.devices.protocol import Command
from lendshield.devices.service import COMMAND_KEY, DeviceRules, issue
from lendshield.runtime import Runtime


def rotate_command_key(session: Session, rt: Runtime, rules: DeviceRules) -> list[CommandRow]:
    """Make a new command key current and announce it to every device still under control, each
    announcement signed by the old key (the only key the phone trusts until it applies it).

    The new key is written to the key store before this transaction commits; if the transaction
    fails, run it again: the phones still trust the old version and are told about the newest.
    """
    devices = list(session.scalars(select(DeviceRow).where(DeviceRow.state != "released").order_by(DeviceRow.id)))
    trusted = _trusted_versions(session, devices, rt)
    new_version = rt.keys.add_signing_key(COMMAND_KEY)
    _, new_key = rt.keys.signing_key(COMMAND_KEY, new_version)
    args = {"next_kid": f"cmd-{new_version}", "next_key": b64url(public_raw(new_key))}
    return [
        issue(
            session,
            rt,
            d,
            Command.ROTATE_KEY,
            rules,
            args=args,
            approvals=[],
            request_id=None,
            sign_with=trusted[d.id],
            ttl=rules.rotation_ttl,
        )
        for d in devices
    ]


def _trusted_versions(session: Session, devices: list[DeviceRow], rt: Runtime) -> dict[str, str]:
    # A device trusts the key its newest rotation announced, else the key current at enrolment
    # (the one we are about to replace, when no rotation reached it yet).
    current, _ = rt.keys.signing_key(COMMAND_KEY)
    out = {}
    for d in devices:
        last = session.scalar(
            select(CommandRow)
            .where(CommandRow.device_id == d.id, CommandRow.command == Command.ROTATE_KEY.value)
            .order_by(CommandRow.seq.desc())
            .limit(1)
        )
        out[d.id] = current if last is None else str(json_claims(last.token)["args"]["next_kid"]).removeprefix("cmd-")
    return out


def json_claims(token: str) -> dict[str, Any]:
    """The claims of a token we signed ourselves (read back from our own table, not from a device)."""
    import json

    from lendshield.crypto.jws import unb64url

    claims: dict[str, Any] = json.loads(unb64url(token.split(".")[1]))
    return claims
