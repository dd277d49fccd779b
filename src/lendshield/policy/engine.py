"""The policy decision point: role x purpose x field category -> clear | mask | deny."""

from __future__ import annotations

from dataclasses import dataclass

from lendshield.catalog import FieldSpec
from lendshield.policy.decision import DEFAULT_DENY, Decision, Effect
from lendshield.principals import Principal

# Foundation rules: staff see masked values; the protection officer and risk officers may ask
# for clear text with a reason. The policy issue replaces these with policies/policy.yaml.
_CLEAR_ROLES = frozenset({"protection_officer", "risk_officer"})
_MASK_ROLES = frozenset(
    {
        "admin",
        "customer_service",
        "collector",
        "collection_supervisor",
        "device_operator",
        "protection_officer",
        "risk_officer",
        "auditor",
        "loan_system",
    }
)


@dataclass(frozen=True, slots=True)
class Request:
    principal: Principal
    field: FieldSpec
    purpose: str | None
    want_clear: bool


class PolicyEngine:
    def decide(self, req: Request) -> Decision:
        if req.want_clear and req.principal.roles & _CLEAR_ROLES:
            return Decision(Effect.CLEAR, "foundation-clear-officer")
        if req.principal.roles & _MASK_ROLES:
            return Decision(Effect.MASK, "foundation-mask-staff")
        return DEFAULT_DENY
