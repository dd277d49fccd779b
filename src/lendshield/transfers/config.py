"""The transfers rules from ``policies/transfers.yaml``: roles, cross-border thresholds, fingerprints."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lendshield.errors import ConfigurationError
from lendshield.transfers.thresholds import TIERS, Thresholds

MECHANISMS = ("security_assessment", "standard_contract", "certification", "exemption")
FILE_NAME = "transfers.yaml"


class TransferRulesInvalid(ConfigurationError):
    code = "transfers-config-invalid"


@dataclass(frozen=True, slots=True, kw_only=True)
class FingerprintRules:
    canaries_min: int
    rows_per_canary: int
    canaries_max: int
    canary_email_domain: str
    min_values_per_row: int

    def canaries_for(self, rows: int) -> int:
        """How many canary identities an export of ``rows`` real rows carries."""
        return max(self.canaries_min, min(self.canaries_max, self.canaries_min + rows // self.rows_per_canary))


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferRules:
    provision_roles: frozenset[str]
    export_roles: frozenset[str]
    registry_roles: frozenset[str]
    registry_read_roles: frozenset[str]
    recipients_of_roles: frozenset[str]
    trace_roles: frozenset[str]
    home_region: str
    thresholds: Thresholds
    mechanism_covers: dict[str, str]
    fingerprint: FingerprintRules
    max_subjects_per_request: int
    max_trace_rows: int


def _section(doc: dict[str, Any], key: str) -> dict[str, Any]:
    value = doc.get(key)
    if not isinstance(value, dict):
        raise TransferRulesInvalid(f"{FILE_NAME}: '{key}' must be a mapping")
    return value


def _int(section: dict[str, Any], key: str, where: str, minimum: int = 0) -> int:
    value = section.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise TransferRulesInvalid(f"{FILE_NAME}: {where}.{key} must be an integer of at least {minimum}")
    return value


def _roles(doc: dict[str, Any], key: str) -> frozenset[str]:
    value = doc.get(key)
    if not isinstance(value, list) or not all(isinstance(r, str) for r in value):
        raise TransferRulesInvalid(f"{FILE_NAME}: '{key}' must be a list of role names")
    return frozenset(value)


def parse(doc: Any) -> TransferRules:
    """Check the whole file; any mistake is one error naming the key (the service refuses to guess)."""
    if not isinstance(doc, dict) or doc.get("version") != 1:
        raise TransferRulesInvalid(f"{FILE_NAME}: expected a mapping with version: 1")
    cb = _section(doc, "cross_border")
    th = _section(cb, "thresholds")
    thresholds = Thresholds(
        people_standard=_int(th, "people_standard", "cross_border.thresholds", 1),
        people_assessment=_int(th, "people_assessment", "cross_border.thresholds", 1),
        sensitive_standard=_int(th, "sensitive_standard", "cross_border.thresholds", 1),
        sensitive_assessment=_int(th, "sensitive_assessment", "cross_border.thresholds", 1),
    )
    if thresholds.people_standard >= thresholds.people_assessment or thresholds.sensitive_standard >= thresholds.sensitive_assessment:
        raise TransferRulesInvalid(f"{FILE_NAME}: each standard threshold must be below its assessment threshold")
    covers = _section(cb, "mechanism_covers")
    if set(covers) != set(MECHANISMS) or not all(v in TIERS for v in covers.values()):
        raise TransferRulesInvalid(f"{FILE_NAME}: mechanism_covers names each of {', '.join(MECHANISMS)} with one of {', '.join(TIERS)}")
    region = cb.get("home_region")
    if not isinstance(region, str) or len(region) != 2 or not region.isupper():
        raise TransferRulesInvalid(f"{FILE_NAME}: cross_border.home_region is a two-letter country code")
    fp = _section(doc, "fingerprint")
    domain = fp.get("canary_email_domain")
    if not isinstance(domain, str) or "." not in domain or "@" in domain:
        raise TransferRulesInvalid(f"{FILE_NAME}: fingerprint.canary_email_domain must be a domain name")
    fingerprint = FingerprintRules(
        canaries_min=_int(fp, "canaries_min", "fingerprint", 1),
        rows_per_canary=_int(fp, "rows_per_canary", "fingerprint", 1),
        canaries_max=_int(fp, "canaries_max", "fingerprint", 1),
        canary_email_domain=domain,
        min_values_per_row=_int(fp, "min_values_per_row", "fingerprint", 1),
    )
    limits = _section(doc, "limits")
    return TransferRules(
        provision_roles=_roles(doc, "provision_roles"),
        export_roles=_roles(doc, "export_roles"),
        registry_roles=_roles(doc, "registry_roles"),
        registry_read_roles=_roles(doc, "registry_read_roles"),
        recipients_of_roles=_roles(doc, "recipients_of_roles"),
        trace_roles=_roles(doc, "trace_roles"),
        home_region=region,
        thresholds=thresholds,
        mechanism_covers={str(k): str(v) for k, v in covers.items()},
        fingerprint=fingerprint,
        max_subjects_per_request=_int(limits, "max_subjects_per_request", "limits", 1),
        max_trace_rows=_int(limits, "max_trace_rows", "limits", 1),
    )


_CACHE: dict[tuple[Path, int, int], TransferRules] = {}


def load(policies_dir: Path) -> TransferRules:
    """The rules in ``policies_dir/transfers.yaml``, re-read when the file changes."""
    path = policies_dir / FILE_NAME
    try:
        st = path.stat()
        key = (path, st.st_mtime_ns, st.st_size)
        cached = _CACHE.get(key)
        if cached is not None:
            return cached
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TransferRulesInvalid(f"{FILE_NAME} cannot be read") from exc
    except yaml.YAMLError as exc:
        raise TransferRulesInvalid(f"{FILE_NAME} is not valid YAML") from exc
    rules = parse(doc)
    _CACHE[key] = rules
    return rules
