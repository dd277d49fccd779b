"""A copy of the shipped policies plus the ``credential_check`` purpose borrower passwords need.

Until the shipped policy carries it (asked of the policy owner), tests that register or reset a
borrower's password run on this copy; everything else is the shipped policy unchanged.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from lendshield.accounts.borrowers import CREDENTIAL_PURPOSE

PURPOSE = {
    "label_zh": "账户安全校验",
    "label_en": "Keeping the person's own data out of their password",
    "legal_basis": "contract",
    "fields": ["name", "mobile", "resident_id"],
    "retention_days": 1,
    "necessary": True,
}
RULE = {
    "id": "system-credential-check",
    "roles": ["system"],
    "purposes": [CREDENTIAL_PURPOSE],
    "fields": ["name", "mobile", "resident_id"],
    "effect": "clear",
    "reason": "the platform checks a new password against the person's own data and keeps nothing (R7)",
}


def with_credential_check(shipped: Path, into: Path) -> Path:
    if into.exists():
        return into
    shutil.copytree(shipped, into)
    purposes = yaml.safe_load((into / "purposes.yaml").read_text(encoding="utf-8"))
    purposes["purposes"].setdefault(CREDENTIAL_PURPOSE, PURPOSE)
    (into / "purposes.yaml").write_text(yaml.safe_dump(purposes, allow_unicode=True, sort_keys=False), encoding="utf-8")
    policy = yaml.safe_load((into / "policy.yaml").read_text(encoding="utf-8"))
    if not any(r["id"] == RULE["id"] for r in policy["rules"]):
        policy["rules"].append(RULE)
    (into / "policy.yaml").write_text(yaml.safe_dump(policy, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return into
