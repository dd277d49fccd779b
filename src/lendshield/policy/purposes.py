"""Purposes of processing, each with its PIPL Art. 13 legal basis, fields, retention and necessity."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lendshield.catalog import Catalog
from lendshield.policy import yamlfile
from lendshield.policy.yamlfile import PolicyFileError

# PIPL Art. 13(1)-(7).
LEGAL_BASES = frozenset({"consent", "contract", "hr", "legal_duty", "emergency", "news", "public_info"})
# Separate consents (单独同意): Art. 23 third party, Art. 25 public disclosure, Art. 29 sensitive,
# Art. 39 cross-border. `sensitive` is implied by the fields; the others are declared per purpose.
SEPARATE_KINDS = {"third_party": 23, "public_disclosure": 25, "sensitive": 29, "cross_border": 39}
FILE = "purposes.yaml"


@dataclass(frozen=True, slots=True)
class Purpose:
    id: str
    label_zh: str
    label_en: str
    legal_basis: str
    fields: frozenset[str]
    retention_days: int
    necessary: bool
    separate: frozenset[str]

    @property
    def needs_consent(self) -> bool:
        return self.legal_basis == "consent"


@dataclass(frozen=True, slots=True)
class Purposes:
    by_id: Mapping[str, Purpose]

    def get(self, purpose_id: str) -> Purpose | None:
        return self.by_id.get(purpose_id)

    def __contains__(self, purpose_id: object) -> bool:
        return purpose_id in self.by_id


def parse_purposes(doc: Any, catalog: Catalog, errors: list[PolicyFileError]) -> Purposes:
    """Parse purposes.yaml, appending every problem to ``errors`` (file and line in each)."""

    def err(line: int, msg: str) -> None:
        errors.append(PolicyFileError(FILE, line, msg))

    out: dict[str, Purpose] = {}
    if not isinstance(doc, dict) or not isinstance(doc.get("purposes"), dict):
        err(yamlfile.line_of(doc, 1), "needs a 'purposes' mapping")
        return Purposes({})
    for pid, raw in yamlfile.items(doc["purposes"]):
        line = yamlfile.line_of(raw, yamlfile.line_of(doc["purposes"]))
        if not isinstance(raw, dict):
            err(line, f"purpose '{pid}' is not a mapping")
            continue
        known = {
            "label_zh",
            "label_en",
            "legal_basis",
            "fields",
            "retention_days",
            "necessary",
            "separate",
            yamlfile.LINE,
            yamlfile.KEY_LINES,
        }
        for key in raw:
            if key not in known:
                err(line, f"purpose '{pid}': unknown key '{key}'")
        basis = raw.get("legal_basis")
        if basis not in LEGAL_BASES:
            err(
                yamlfile.key_line(raw, "legal_basis", line),
                f"purpose '{pid}': legal_basis must be one of {sorted(LEGAL_BASES)} (PIPL Art. 13)",
            )
        fields = raw.get("fields")
        if not isinstance(fields, list) or not fields:
            err(line, f"purpose '{pid}': fields must be a non-empty list")
            fields = []
        for name in fields:
            if name not in catalog.fields:
                err(yamlfile.key_line(raw, "fields", line), f"purpose '{pid}': unknown field '{name}'")
        retention = raw.get("retention_days")
        if not isinstance(retention, int) or isinstance(retention, bool) or retention <= 0:
            err(line, f"purpose '{pid}': retention_days must be a positive integer (PIPL Art. 19)")
            retention = 0
        necessary = raw.get("necessary")
        if not isinstance(necessary, bool):
            err(line, f"purpose '{pid}': necessary must be true or false (PIPL Art. 16)")
        separate = raw.get("separate", []) or []
        for kind in separate:
            if kind not in SEPARATE_KINDS or kind == "sensitive":
                err(line, f"purpose '{pid}': unknown separate consent '{kind}'")
        out[str(pid)] = Purpose(
            id=str(pid),
            label_zh=str(raw.get("label_zh", pid)),
            label_en=str(raw.get("label_en", pid)),
            legal_basis=str(basis),
            fields=frozenset(str(f) for f in fields),
            retention_days=int(retention),
            necessary=bool(necessary),
            separate=frozenset(str(s) for s in separate),
        )
    return Purposes(out)


def load_purposes(policies_dir: Path, catalog: Catalog) -> Purposes:
    errors: list[PolicyFileError] = []
    purposes = parse_purposes(yamlfile.load(policies_dir / FILE), catalog, errors)
    if errors:
        raise errors[0]
    return purposes
