"""Decisions are values: clear, mask or deny, always with the id of the rule that made them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Effect(StrEnum):
    CLEAR = "clear"
    MASK = "mask"
    DENY = "deny"


@dataclass(frozen=True, slots=True)
class Decision:
    effect: Effect
    rule_id: str
    reason: str = ""

    @property
    def allowed(self) -> bool:
        return self.effect is not Effect.DENY


DEFAULT_DENY = Decision(Effect.DENY, "default-deny", "no rule allows this")
