"""The transfers rules from ``policies/transfers.yaml``: roles, cross-border thresholds, fingerprints."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lendshield.errors import ConfigurationError
from lendshield.rulefile import RuleFile
from lendshield.transfers.thresholds import TIERS, Thresholds

MECHANISMS = ("security_assessment", "standard_contract", "certification", "exemption")
FILE_NAME = "transfers.yaml"


class TransferRulesInvalid(ConfigurationError):
    code = "transfers-config-invalid"


RULES = RuleFile(FILE_NAME, TransferRulesInvalid)


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


def parse(doc: Any) -> TransferRules:
    """Check the whole file; any mistake is one error naming the key (the service refuses to guess)."""
    if not isinstance(doc, dict) or doc.get("version") != 1:
        raise RULES.fail("expected a mapping with version: 1")
    cb = RULES.section(doc, "cross_border")
    th = RULES.section(cb, "thresholds")
    thresholds = Thresholds(
        people_standard=RULES.integer(th, "people_standard", "cross_border.thresholds", 1),
        people_assessment=RULES.integer(th, "people_assessment", "cross_border.thresholds", 1),
        sensitive_standard=RULES.integer(th, "sensitive_standard", "cross_border.thresholds", 1),
        sensitive_assessment=RULES.integer(th, "sensitive_assessment", "cross_border.thresholds", 1),
    )
    if thresholds.people_standard >= thresholds.people_assessment or thresholds.sensitive_standard >= thresholds.sensitive_assessment:
        raise RULES.fail("each standard threshold must be below its assessment threshold")
    covers = RULES.section(cb, "mechanism_covers")
    if set(covers) != set(MECHANISMS) or not all(v in TIERS for v in covers.values()):
        raise RULES.fail(f"mechanism_covers names each of {', '.join(MECHANISMS)} with one of {', '.join(TIERS)}")
    region = cb.get("home_region")
    if not isinstance(region, str) or len(region) != 2 or not region.isupper():
        raise RULES.fail("cross_border.home_region is a two-letter country code")
    fp = RULES.section(doc, "fingerprint")
    domain = fp.get("canary_email_domain")
    if not isinstance(domain, str) or "." not in domain or "@" in domain:
        raise RULES.fail("fingerprint.canary_email_domain must be a domain name")
    fingerprint = FingerprintRules(
        canaries_min=RULES.integer(fp, "canaries_min", "fingerprint", 1),
        rows_per_canary=RULES.integer(fp, "rows_per_canary", "fingerprint", 1),
        canaries_max=RULES.integer(fp, "canaries_max", "fingerprint", 1),
        canary_email_domain=domain,
        min_values_per_row=RULES.integer(fp, "min_values_per_row", "fingerprint", 1),
    )
    limits = RULES.section(doc, "limits")
    return TransferRules(
        provision_roles=RULES.roles(doc, "provision_roles"),
        export_roles=RULES.roles(doc, "export_roles"),
        registry_roles=RULES.roles(doc, "registry_roles"),
        registry_read_roles=RULES.roles(doc, "registry_read_roles"),
        recipients_of_roles=RULES.roles(doc, "recipients_of_roles"),
        trace_roles=RULES.roles(doc, "trace_roles"),
        home_region=region,
        thresholds=thresholds,
        mechanism_covers={str(k): str(v) for k, v in covers.items()},
        fingerprint=fingerprint,
        max_subjects_per_request=RULES.integer(limits, "max_subjects_per_request", "limits", 1),
        max_trace_rows=RULES.integer(limits, "max_trace_rows", "limits", 1),
    )


_CACHE: dict[tuple[Path, int, int], TransferRules] = {}


def load(policies_dir: Path) -> TransferRules:
    """The rules in ``policies_dir/transfers.yaml``, re-read when the file changes."""
    path = policies_dir / FILE_NAME
    try:
        st = path.stat()
    except OSError as exc:
        raise RULES.fail("cannot be read") from exc
    key = (path, st.st_mtime_ns, st.st_size)
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    doc = RULES.read(path)
    rules = parse(doc)
    _CACHE[key] = rules
    return rules
