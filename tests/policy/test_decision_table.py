"""One test per row of the reviewed default decision table (tests/policy/decision_table.txt).

Each row: role x purpose x field -> effect, the conditions the allow needs, and the rule id. The
engine must give exactly that with the conditions met, deny without them, and mask when clear text
was not asked for. Regenerate with ``python -m tests.policy.test_decision_table`` and review the diff.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lendshield.catalog import load_catalog
from lendshield.policy import Effect, Request, load_policy
from lendshield.policy.matrix import markdown, rows
from lendshield.principals import Principal
from lendshield.settings import Settings

TABLE = Path(__file__).with_name("decision_table.txt")
ROOT = Path(__file__).resolve().parents[2]
POLICIES = Settings().policies_dir
CATALOG = load_catalog(POLICIES)
ENGINE = load_policy(POLICIES, CATALOG)


def _expected() -> list[list[str]]:
    lines = TABLE.read_text(encoding="utf-8").splitlines()
    return [line.split("|") for line in lines if line and not line.startswith("#")]


EXPECTED = _expected()


def test_table_covers_every_combination() -> None:
    assert len(EXPECTED) == len(CATALOG.roles) * len(ENGINE.purposes.by_id) * len(CATALOG.fields)
    assert [r.as_line() for r in rows(ENGINE, CATALOG)] == ["|".join(r) for r in EXPECTED]


def test_docs_matrix_is_current() -> None:
    assert (ROOT / "docs" / "policy-matrix.md").read_text(encoding="utf-8") == markdown(ENGINE, CATALOG)


@pytest.mark.parametrize(("role", "purpose", "field", "effect", "conditions", "rule_id"), EXPECTED, ids=str)
def test_row(role: str, purpose: str, field: str, effect: str, conditions: str, rule_id: str) -> None:
    who = Principal(id="p", name="p", kind="staff", roles=frozenset({role}))
    spec = CATALOG.fields[field]
    facts = frozenset(conditions.split("+")) if conditions else frozenset()
    asked_clear = ENGINE.decide(Request(who, spec, purpose, True, facts))
    assert (asked_clear.effect.value, asked_clear.rule_id) == (effect, rule_id)
    masked = ENGINE.decide(Request(who, spec, purpose, False, facts))
    assert masked.effect is (Effect.DENY if effect == "deny" else Effect.MASK)
    assert masked.rule_id == rule_id
    if facts:
        unmet = ENGINE.decide(Request(who, spec, purpose, True, frozenset()))
        assert unmet.effect is Effect.DENY
        assert unmet.rule_id == rule_id
        assert "condition not met" in unmet.reason


if __name__ == "__main__":
    header = "# role|purpose|field|effect|conditions|rule_id -- the reviewed default decision table.\n"
    header += "# Regenerate: python -m tests.policy.test_decision_table (then review the diff).\n"
    TABLE.write_text(header + "".join(r.as_line() + "\n" for r in rows(ENGINE, CATALOG)), encoding="utf-8")
