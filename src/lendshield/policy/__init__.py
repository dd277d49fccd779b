"""Policy: may this principal see this field for this purpose, and how."""

from lendshield.policy.decision import DEFAULT_DENY, Decision, Effect
from lendshield.policy.engine import CONDITIONS, PolicyEngine, PolicyInvalid, Request, check_files, load_policy
from lendshield.policy.purposes import Purpose, Purposes
from lendshield.policy.yamlfile import PolicyFileError

__all__ = [
    "CONDITIONS",
    "DEFAULT_DENY",
    "Decision",
    "Effect",
    "PolicyEngine",
    "PolicyFileError",
    "PolicyInvalid",
    "Purpose",
    "Purposes",
    "Request",
    "check_files",
    "load_policy",
]
