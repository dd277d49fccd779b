"""The yearly cross-border thresholds (2024 rules, Arts. 7-8; REGULATION.md [S]) at every boundary, and the rules file."""

from __future__ import annotations

from pathlib import Path

import pytest

from lendshield.settings import Settings
from lendshield.transfers import config
from lendshield.transfers.thresholds import Thresholds, covers, required_tier

T = config.load(Settings().policies_dir).thresholds


@pytest.mark.parametrize(
    ("people", "sensitive", "tier"),
    [
        (0, 0, "exempt"),
        (99_999, 0, "exempt"),  # under 100,000 people and no sensitive data: exempt
        (100_000, 0, "standard"),  # 100,000 to under 1,000,000: standard contract or certification
        (999_999, 0, "standard"),
        (1_000_000, 0, "assessment"),  # 1,000,000 or more: CAC security assessment
        (0, 1, "standard"),  # any sensitive data under 10,000 people: standard contract or certification
        (0, 9_999, "standard"),
        (0, 10_000, "assessment"),  # sensitive data of 10,000 people or more: security assessment
        (99_999, 9_999, "standard"),
        (99_999, 10_000, "assessment"),
        (1_000_000, 1, "assessment"),
    ],
)
def test_tier_at_each_boundary(people: int, sensitive: int, tier: str) -> None:
    assert required_tier(people, sensitive, T) == tier


def test_thresholds_come_from_the_file() -> None:
    assert Thresholds(people_standard=100_000, people_assessment=1_000_000, sensitive_standard=1, sensitive_assessment=10_000) == T
    other = Thresholds(people_standard=10, people_assessment=20, sensitive_standard=1, sensitive_assessment=5)
    assert required_tier(9, 0, other) == "exempt"
    assert required_tier(10, 0, other) == "standard"
    assert required_tier(0, 5, other) == "assessment"


def test_negative_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        required_tier(-1, 0, T)


def test_which_mechanism_covers_which_tier() -> None:
    rules = config.load(Settings().policies_dir)
    assert rules.mechanism_covers["exemption"] == "exempt"
    assert rules.mechanism_covers["standard_contract"] == rules.mechanism_covers["certification"] == "standard"
    assert covers("assessment", "standard")
    assert covers("standard", "standard")
    assert covers("standard", "exempt")
    assert not covers("standard", "assessment")
    assert not covers("exempt", "standard")


def test_a_wrong_rules_file_is_refused_with_the_key(tmp_path: Path) -> None:
    text = (Settings().policies_dir / "transfers.yaml").read_text()
    (tmp_path / "transfers.yaml").write_text(text.replace("people_assessment: 1000000", "people_assessment: 50000"))
    with pytest.raises(config.TransferRulesInvalid, match="below its assessment threshold"):
        config.load(tmp_path)
    (tmp_path / "transfers.yaml").write_text(text.replace("certification: standard", "certification: everything"))
    with pytest.raises(config.TransferRulesInvalid, match="mechanism_covers"):
        config.load(tmp_path)


def test_canary_count_grows_with_the_export() -> None:
    fp = config.load(Settings().policies_dir).fingerprint
    assert fp.canaries_for(1) == fp.canaries_min
    assert fp.canaries_for(100) == fp.canaries_min + 100 // fp.rows_per_canary
    assert fp.canaries_for(10_000_000) == fp.canaries_max
