"""The engine's memo of decisions gives exactly what ``decide`` gives, and dies with its engine."""

from __future__ import annotations

import itertools

from lendshield.catalog import load_catalog
from lendshield.policy import CONDITIONS, Request, load_policy
from lendshield.principals import Principal
from lendshield.settings import Settings

POLICIES = Settings().policies_dir
CATALOG = load_catalog(POLICIES)


def test_memoised_decisions_equal_decide_for_every_combination() -> None:
    engine = load_policy(POLICIES, CATALOG)
    specs = list(CATALOG.fields.values())
    fact_sets = [frozenset(), frozenset(CONDITIONS)]
    role_sets = [frozenset({r}) for r in CATALOG.roles] + [frozenset(CATALOG.roles)]
    for roles, purpose, clear, facts in itertools.product(role_sets, [*engine.purposes.by_id, None, "nope"], (False, True), fact_sets):
        who = Principal(id="p", name="p", kind="staff", roles=roles)
        for _ in range(2):  # the second pass is answered from the memo
            got = engine.decide_fields(who, specs, purpose, clear, facts)
            assert got == {s.name: engine.decide(Request(who, s, purpose, clear, facts)) for s in specs}
        needed = frozenset().union(*(engine.conditions.get((r, purpose or ""), frozenset()) for r in roles))
        assert engine.conditions_for(roles, purpose or "") == needed
        assert engine.conditions_for(sorted(roles), purpose or "") == needed


def test_a_new_engine_starts_with_an_empty_memo() -> None:
    first = load_policy(POLICIES, CATALOG)
    who = Principal(id="p", name="p", kind="staff", roles=frozenset({"loan_system"}))
    first.decide_fields(who, list(CATALOG.fields.values()), "loan_servicing", False, frozenset())
    assert first._decisions
    assert not load_policy(POLICIES, CATALOG)._decisions
