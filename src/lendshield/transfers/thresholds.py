"""The yearly cross-border volume thresholds as pure arithmetic (促进和规范数据跨境流动规定, 2024, Arts. 7-8).

Tiers, lowest first: ``exempt`` (no filing), ``standard`` (a filed standard contract or a
certification), ``assessment`` (a CAC security assessment). The counts are distinct people
provided abroad since 1 January; sensitive personal information is counted on its own.
The numbers come from ``transfers.yaml`` and are to be checked against the current rules.
"""

from __future__ import annotations

from dataclasses import dataclass

TIERS = ("exempt", "standard", "assessment")


@dataclass(frozen=True, slots=True, kw_only=True)
class Thresholds:
    people_standard: int
    people_assessment: int
    sensitive_standard: int
    sensitive_assessment: int


def required_tier(people: int, sensitive_people: int, t: Thresholds) -> str:
    """The tier a year's totals need: 1,000,000+ people or 10,000+ sensitive -> assessment;
    100,000+ people or any sensitive -> standard; otherwise exempt."""
    if people < 0 or sensitive_people < 0:
        raise ValueError("counts cannot be negative")
    if people >= t.people_assessment or sensitive_people >= t.sensitive_assessment:
        return "assessment"
    if people >= t.people_standard or sensitive_people >= t.sensitive_standard:
        return "standard"
    return "exempt"


def tier_rank(tier: str) -> int:
    return TIERS.index(tier)


def covers(mechanism_tier: str, needed: str) -> bool:
    """Does a mechanism whose highest tier is ``mechanism_tier`` allow a transfer needing ``needed``?"""
    return tier_rank(mechanism_tier) >= tier_rank(needed)
