"""The authenticated caller, as every service sees it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Principal:
    id: str
    name: str
    kind: str
    roles: frozenset[str]

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))


SYSTEM = Principal(id="system", name="system", kind="service", roles=frozenset({"system"}))
"""The platform acting on its own (jobs, automatic unlock); never issued a token."""
