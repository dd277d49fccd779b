"""The shared checks of the operators' rule files: each mistake names the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from lendshield.errors import ConfigurationError
from lendshield.rulefile import RuleFile


class ExampleInvalid(ConfigurationError):
    code = "example-config-invalid"


RULES = RuleFile("example.yaml", ExampleInvalid)


def test_integer_names_file_section_and_key() -> None:
    assert RULES.integer({"days": 3}, "days", "limits", minimum=1) == 3
    with pytest.raises(ExampleInvalid, match=r"^example\.yaml: limits\.days must be an integer >= 1$"):
        RULES.integer({"days": 0}, "days", "limits", minimum=1)


@pytest.mark.parametrize("value", [True, "3", 2.5, None])
def test_integer_refuses_what_is_not_an_integer(value: object) -> None:
    with pytest.raises(ExampleInvalid, match=r"^example\.yaml: days must be an integer >= 0$"):
        RULES.integer({"days": value}, "days", "")


def test_roles_must_be_a_list_of_names() -> None:
    assert RULES.roles({"readers": ["a", "b"]}, "readers") == frozenset({"a", "b"})
    for bad in ("a", ["a", 1], None):
        with pytest.raises(ExampleInvalid, match="readers must be a list of role names"):
            RULES.roles({"readers": bad}, "readers")


def test_section_must_be_a_mapping() -> None:
    with pytest.raises(ExampleInvalid, match=r"^example\.yaml: limits must be a mapping$"):
        RULES.section({"limits": [1]}, "limits")


def test_read_reports_a_missing_file_and_invalid_yaml(tmp_path: Path) -> None:
    with pytest.raises(ExampleInvalid, match=r"example\.yaml: cannot be read"):
        RULES.read(tmp_path / "example.yaml")
    (tmp_path / "example.yaml").write_text("a: [1, 2\n", encoding="utf-8")
    with pytest.raises(ExampleInvalid, match=r"example\.yaml: not valid YAML"):
        RULES.read(tmp_path / "example.yaml")
    (tmp_path / "example.yaml").write_text("a: 1\n", encoding="utf-8")
    assert RULES.read(tmp_path / "example.yaml") == {"a": 1}
