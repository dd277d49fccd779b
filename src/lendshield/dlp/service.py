"""Scanning and redacting text for the API: the shipped engine, the runtime's rules and keys."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from lendshield.dlp.config import load_config
from lendshield.dlp.redact import hasher, label, masker, redact_text
from lendshield.dlp.scanner import Finding, Scanner
from lendshield.runtime import Runtime


@lru_cache(maxsize=4)
def _scanner(policies_dir: Path, mtime_ns: int) -> Scanner:
    # Keyed by the file's modification time: an edited dlp.yaml is picked up without a restart.
    return Scanner(load_config(policies_dir))


def scanner_for(rt: Runtime) -> Scanner:
    path = rt.settings.policies_dir / "dlp.yaml"
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        mtime = 0  # load_config reports the missing file
    return _scanner(rt.settings.policies_dir, mtime)


def scan(rt: Runtime, text: str, *, context: str = "") -> list[Finding]:
    return scanner_for(rt).scan(text, context=context)


def redact(rt: Runtime, text: str, mode: str) -> tuple[str, int]:
    """``text`` with its findings replaced; ``hash`` uses the runtime's redaction secret."""
    findings = scan(rt, text)
    if mode == "hash":
        replace = hasher(rt.keys.secret("dlp/redaction-hash"))
    elif mode == "replace":
        replace = label
    else:
        replace = masker
    return redact_text(text, findings, replace), len(findings)
