"""Policy: may this principal see this field for this purpose, and how."""

from lendshield.policy.decision import DEFAULT_DENY, Decision, Effect
from lendshield.policy.engine import PolicyEngine, Request

__all__ = ["DEFAULT_DENY", "Decision", "Effect", "PolicyEngine", "Request"]
