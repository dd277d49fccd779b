"""Offline verification of a subject bundle: no database, no network, no SQLAlchemy.

Anyone may import this module (the portal, rights requests, outside tools). It checks the log's
signature on the checkpoint, then each entry's body hash and RFC 9162 inclusion proof, and
reports every failure precisely.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from lendshield.ledger import merkle, note

BUNDLE_FORMAT = "lendshield-ledger-bundle/v1"


@dataclass
class Report:
    checkpoint: note.Checkpoint | None = None
    verified: list[int] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures and self.checkpoint is not None


def _hashes(items: Any, where: str) -> list[bytes]:
    if not isinstance(items, list):
        raise ValueError(f"{where}: inclusion_proof must be a list")
    out = []
    for i, text in enumerate(items):
        try:
            out.append(base64.b64decode(str(text), validate=True))
        except binascii.Error as exc:
            raise ValueError(f"{where}: proof hash {i} is not base64") from exc
    return out


def verify_bundle(bundle: Any, log_key: str) -> Report:
    """Verify a bundle against the log key the verifier trusts (never the key inside the bundle)."""
    report = Report()
    if not isinstance(bundle, dict):
        report.failures.append("bundle is not a JSON object")
        return report
    if bundle.get("format") != BUNDLE_FORMAT:
        report.failures.append(f"bundle format is not {BUNDLE_FORMAT}")
        return report
    try:
        cp = note.verify_note(str(bundle.get("checkpoint", "")), log_key)
    except note.NoteError as exc:
        report.failures.append(f"checkpoint: {exc}")
        return report
    report.checkpoint = cp
    entries = bundle.get("entries")
    if not isinstance(entries, list):
        report.failures.append("bundle has no entries list")
        return report
    for n, item in enumerate(entries):
        where = f"entry #{n}"
        try:
            if not isinstance(item, dict):
                raise ValueError(f"{where}: not an object")
            seq, body = item.get("seq"), item.get("body")
            if not isinstance(seq, int) or not isinstance(body, str):
                raise ValueError(f"{where}: seq must be an integer and body a string")
            where = f"entry {seq}"
            if item.get("tree_size") != cp.size:
                raise ValueError(f"{where}: proof is for size {item.get('tree_size')}, checkpoint has {cp.size}")
            parsed = json.loads(body)
            if not isinstance(parsed, dict) or parsed.get("seq") != seq:
                raise ValueError(f"{where}: body does not carry sequence number {seq}")
            details = item.get("details")
            if details:
                import rfc8785

                digest = hashlib.sha256(rfc8785.dumps(details)).hexdigest()
                if parsed.get("details_digest") != digest:
                    raise ValueError(f"{where}: details do not match the digest in the entry")
            proof = _hashes(item.get("inclusion_proof"), where)
            merkle.verify_inclusion(seq, cp.size, merkle.leaf_hash(body.encode()), proof, cp.root)
        except (ValueError, merkle.ProofError) as exc:
            msg = str(exc)
            report.failures.append(msg if msg.startswith("entry") else f"{where}: {msg}")
            continue
        report.verified.append(seq)
    return report
