"""The policy decision point: role x purpose x field -> clear | mask | deny, from policy.yaml.

The YAML is compiled once into a dict keyed by (role, purpose, field); a decision is one lookup
per role of the principal. Conditions on case state (``when``) are facts the caller supplies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lendshield.catalog import Catalog, FieldSpec
from lendshield.errors import ConfigurationError
from lendshield.policy import yamlfile
from lendshield.policy.decision import DEFAULT_DENY, Decision, Effect
from lendshield.policy.purposes import Purposes, load_purposes, parse_purposes
from lendshield.policy.yamlfile import PolicyFileError
from lendshield.principals import Principal

FILE = "policy.yaml"
CONDITIONS: Mapping[str, str] = {
    "collector_assigned_overdue": "the subject has an overdue loan assigned to this collector",
    "overdue_loan": "the subject has an overdue loan",
    "financed_device": "the subject has a live loan that financed a device",
    "open_ticket": "the subject has an open customer-support ticket",
    "own_data": "the principal is the borrower's own portal account (a person reading their own data)",
}
_RANK = {Effect.DENY: 0, Effect.MASK: 1, Effect.CLEAR: 2}
# Bound on the memo of decisions; the key space is (role sets in use) x purposes x fields x facts.
_MEMO_LIMIT = 65_536


@dataclass(frozen=True, slots=True)
class Request:
    principal: Principal
    field: FieldSpec
    purpose: str | None
    want_clear: bool
    facts: frozenset[str] = frozenset()
    """Case-state conditions known to hold for this subject and principal."""


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    effect: Effect
    when: frozenset[str]
    reason: str
    specific: bool  # names fields, not categories
    line: int


class PolicyInvalid(ConfigurationError):
    """The policy files have errors; nothing of them was loaded."""

    code = "policy-invalid"

    def __init__(self, errors: tuple[PolicyFileError, ...]) -> None:
        super().__init__("; ".join(str(e) for e in errors), errors=[str(e) for e in errors])
        self.errors = errors


def _scope_deny(purpose: str) -> Decision:
    # PIPL Art. 6: only the fields the purpose needs.
    return Decision(Effect.DENY, f"purpose-scope:{purpose}", f"the purpose '{purpose}' does not need this field (PIPL Art. 6)")


UNKNOWN_PURPOSE = Decision(Effect.DENY, "unknown-purpose", "no such purpose")
NO_PURPOSE = Decision(Effect.DENY, "no-purpose", "a purpose is required (PIPL Art. 6)")


@dataclass
class PolicyEngine:
    """Compiled policy. Build with ``compile_policy``; an instance never changes."""

    purposes: Purposes
    table: dict[tuple[str, str, str], Rule] = field(default_factory=dict)
    roles: frozenset[str] = frozenset()
    rule_count: int = 0
    conditions: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict)
    """(role, purpose) -> every condition a rule for them depends on (computed at compile time)."""
    # Memos of pure functions of this instance's tables. A policy reload builds a new engine
    # (``Runtime.reload_policy``), so an answer of the old policy is never served from here.
    _decisions: dict[tuple[frozenset[str], str | None, bool, frozenset[str], str], Decision] = field(
        default_factory=dict, repr=False, compare=False
    )
    _needed: dict[tuple[frozenset[str], str], frozenset[str]] = field(default_factory=dict, repr=False, compare=False)
    _requests: dict[tuple[frozenset[str], str | None, bool, frozenset[str], tuple[str, ...]], Mapping[str, Decision]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def decide_request(
        self,
        principal: Principal,
        names: tuple[str, ...],
        spec_of: Callable[[str], FieldSpec],
        purpose: str | None,
        want_clear: bool,
        facts: frozenset[str],
    ) -> Mapping[str, Decision]:
        """``decide_fields`` for a whole read, memoised per (roles, purpose, fields, clear, facts):
        every read of the same fields by the same roles gets the same mapping back, which callers
        may memoise on in turn (by identity). Shared: never mutate it."""
        key = (principal.roles, purpose, want_clear, facts, names)
        found = self._requests.get(key)
        if found is None:
            found = self.decide_fields(principal, [spec_of(n) for n in names], purpose, want_clear, facts)
            if len(self._requests) >= _MEMO_LIMIT:
                self._requests.clear()
            self._requests[key] = found
        return found

    def decide_fields(
        self, principal: Principal, specs: Sequence[FieldSpec], purpose: str | None, want_clear: bool, facts: frozenset[str]
    ) -> dict[str, Decision]:
        """``decide`` for each field, memoised: a decision depends only on the principal's roles,
        the purpose, the field, whether clear text was asked for and the facts."""
        memo = self._decisions
        roles = principal.roles
        out: dict[str, Decision] = {}
        for spec in specs:
            key = (roles, purpose, want_clear, facts, spec.name)
            decision = memo.get(key)
            if decision is None:
                decision = self.decide(Request(principal=principal, field=spec, purpose=purpose, want_clear=want_clear, facts=facts))
                if len(memo) >= _MEMO_LIMIT:
                    memo.clear()
                memo[key] = decision
            out[spec.name] = decision
        return out

    def decide(self, req: Request) -> Decision:
        purpose = req.purpose
        if purpose is None:
            return NO_PURPOSE
        p = self.purposes.by_id.get(purpose)
        if p is None:
            return UNKNOWN_PURPOSE
        name = req.field.name
        if name not in p.fields:
            return _scope_deny(purpose)
        best: Decision | None = None
        for role in req.principal.roles:
            rule = self.table.get((role, purpose, name))
            if rule is None:
                continue
            if rule.effect is Effect.DENY:
                return Decision(Effect.DENY, rule.id, rule.reason or "denied by rule")  # deny overrides
            if rule.when and not rule.when <= req.facts:
                missing = ", ".join(sorted(rule.when - req.facts))
                found = Decision(Effect.DENY, rule.id, f"condition not met: {missing}")
            elif rule.effect is Effect.CLEAR and req.want_clear:
                found = Decision(Effect.CLEAR, rule.id, rule.reason)
            else:
                found = Decision(Effect.MASK, rule.id, rule.reason)
            if best is None or _RANK[found.effect] > _RANK[best.effect]:
                best = found
        return best if best is not None else DEFAULT_DENY

    def conditions_for(self, roles: Iterable[str], purpose: str) -> frozenset[str]:
        """The conditions any rule for these roles and this purpose depends on (to fetch only those facts)."""
        key = (roles if isinstance(roles, frozenset) else frozenset(roles), purpose)
        found = self._needed.get(key)
        if found is None:
            found = frozenset()
            for role in key[0]:
                found |= self.conditions.get((role, purpose), frozenset())
            if len(self._needed) >= _MEMO_LIMIT:
                self._needed.clear()
            self._needed[key] = found
        return found

    def rule_for(self, role: str, purpose: str, name: str) -> Rule | None:
        return self.table.get((role, purpose, name))


def _names(value: Any, line: int, what: str, known: Iterable[str], errors: list[PolicyFileError]) -> list[str]:
    universe = list(known)
    if not isinstance(value, list) or not value:
        errors.append(PolicyFileError(FILE, line, f"{what} must be a non-empty list"))
        return []
    if "*" in value:
        return universe
    out = []
    for item in value:
        if item not in universe:
            errors.append(PolicyFileError(FILE, line, f"unknown {what[:-1] if what.endswith('s') else what} '{item}'"))
        else:
            out.append(str(item))
    return out


def compile_policy(doc: Any, catalog: Catalog, purposes: Purposes, errors: list[PolicyFileError]) -> PolicyEngine:
    """Compile policy.yaml into lookup tables; every problem goes to ``errors`` with its line."""
    engine = PolicyEngine(purposes=purposes, roles=frozenset(catalog.roles))
    if not isinstance(doc, dict) or not isinstance(doc.get("rules"), list):
        errors.append(PolicyFileError(FILE, yamlfile.line_of(doc, 1), "needs a 'rules' list"))
        return engine
    seen: dict[str, int] = {}
    by_field: dict[str, list[str]] = {}
    for spec in catalog.fields.values():
        by_field.setdefault(spec.category, []).append(spec.name)
    count = 0
    for raw in doc["rules"]:
        line = yamlfile.line_of(raw, yamlfile.line_of(doc))
        if not isinstance(raw, dict):
            errors.append(PolicyFileError(FILE, line, "a rule must be a mapping"))
            continue
        known = {"id", "roles", "purposes", "categories", "fields", "effect", "when", "reason", yamlfile.LINE, yamlfile.KEY_LINES}
        for key in raw:
            if key not in known:
                errors.append(PolicyFileError(FILE, yamlfile.key_line(raw, key, line), f"unknown key '{key}'"))
        rid = raw.get("id")
        if not isinstance(rid, str) or not rid:
            errors.append(PolicyFileError(FILE, line, "a rule needs an id"))
            continue
        if rid in seen:
            errors.append(PolicyFileError(FILE, line, f"rule id '{rid}' already used on line {seen[rid]}"))
        seen[rid] = line
        try:
            effect = Effect(str(raw.get("effect")))
        except ValueError:
            errors.append(
                PolicyFileError(FILE, yamlfile.key_line(raw, "effect", line), f"rule '{rid}': effect must be clear, mask or deny")
            )
            continue
        roles = _names(raw.get("roles"), yamlfile.key_line(raw, "roles", line), "roles", catalog.roles, errors)
        purpose_ids = _names(raw.get("purposes"), yamlfile.key_line(raw, "purposes", line), "purposes", purposes.by_id, errors)
        if "categories" not in raw and "fields" not in raw:
            errors.append(PolicyFileError(FILE, line, f"rule '{rid}' names neither categories nor fields"))
        names: list[str] = []
        if "categories" in raw:
            for cat in _names(raw["categories"], yamlfile.key_line(raw, "categories", line), "categories", catalog.categories, errors):
                names.extend(by_field.get(cat, []))
        specific = "fields" in raw
        if specific:
            names.extend(_names(raw["fields"], yamlfile.key_line(raw, "fields", line), "fields", catalog.fields, errors))
        when = raw.get("when", []) or []
        if not isinstance(when, list):
            errors.append(PolicyFileError(FILE, line, "when must be a list"))
            when = []
        for cond in when:
            if cond not in CONDITIONS:
                errors.append(PolicyFileError(FILE, yamlfile.key_line(raw, "when", line), f"unknown condition '{cond}'"))
        rule = Rule(
            id=rid,
            effect=effect,
            when=frozenset(str(c) for c in when),
            reason=str(raw.get("reason", "")),
            specific=specific,
            line=line,
        )
        count += 1
        for role in roles:
            for pid in purpose_ids:
                for name in names:
                    key = (role, pid, name)
                    prior = engine.table.get(key)
                    if prior is None or _wins(rule, prior):
                        engine.table[key] = rule
                    elif prior.specific == rule.specific and prior.effect is not Effect.DENY and rule.effect is not Effect.DENY:
                        where = f"{role}/{pid}/{name}"
                        errors.append(
                            PolicyFileError(FILE, line, f"rule '{rid}' overlaps rule '{prior.id}' (line {prior.line}) on {where}")
                        )
    engine.rule_count = count
    conditions: dict[tuple[str, str], set[str]] = {}
    for (role, pid, _name), rule in engine.table.items():
        conditions.setdefault((role, pid), set()).update(rule.when)
    engine.conditions = {k: frozenset(v) for k, v in conditions.items() if v}
    return engine


def _wins(new: Rule, prior: Rule) -> bool:
    if new.effect is Effect.DENY or prior.effect is Effect.DENY:
        return new.effect is Effect.DENY and prior.effect is not Effect.DENY
    return new.specific and not prior.specific


def check_files(policies_dir: Path, catalog: Catalog) -> tuple[PolicyEngine | None, list[PolicyFileError]]:
    """Validate purposes.yaml and policy.yaml; returns the engine only when there is no error."""
    errors: list[PolicyFileError] = []
    try:
        purposes = parse_purposes(yamlfile.load(policies_dir / "purposes.yaml"), catalog, errors)
        engine = compile_policy(yamlfile.load(policies_dir / FILE), catalog, purposes, errors)
    except PolicyFileError as exc:
        errors.append(exc)
        return None, errors
    return (None if errors else engine), errors


def load_policy(policies_dir: Path, catalog: Catalog) -> PolicyEngine:
    """Load both files or raise ``PolicyInvalid``; never returns a half-loaded policy."""
    engine, errors = check_files(policies_dir, catalog)
    if engine is None:
        raise PolicyInvalid(tuple(errors))
    return engine


__all__ = [
    "CONDITIONS",
    "PolicyEngine",
    "PolicyInvalid",
    "Request",
    "Rule",
    "check_files",
    "compile_policy",
    "load_policy",
    "load_purposes",
]
