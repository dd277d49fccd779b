"""Reading the operators' YAML rule files (``policies/*.yaml``) with errors that name file and key.

Each domain keeps its own error class and dataclasses; this module only holds the checks they
share, so that a mistake reads the same way in every file: ``rights.yaml: retention.package_days
must be an integer >= 1``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lendshield.errors import ConfigurationError


@dataclass(frozen=True, slots=True)
class RuleFile:
    """One rule file's name and the error its mistakes raise."""

    name: str
    error: type[ConfigurationError]

    def fail(self, message: str) -> ConfigurationError:
        return self.error(f"{self.name}: {message}")

    def read(self, path: Path) -> Any:
        """The parsed document at ``path``; an unreadable file or invalid YAML is this file's error."""
        try:
            return yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise self.fail("cannot be read") from exc
        except yaml.YAMLError as exc:
            raise self.fail("not valid YAML") from exc

    def mapping(self, value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(f"{where} must be a mapping")
        return value

    def section(self, doc: dict[str, Any], key: str) -> dict[str, Any]:
        return self.mapping(doc.get(key), key)

    def integer(self, section: dict[str, Any], key: str, where: str, minimum: int = 0) -> int:
        """``section[key]`` as an integer of at least ``minimum``; ``where`` is the section's path ("" at the top)."""
        value = section.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise self.fail(f"{where + '.' if where else ''}{key} must be an integer >= {minimum}")
        return value

    def roles(self, doc: dict[str, Any], key: str) -> frozenset[str]:
        value = doc.get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(f"{key} must be a list of role names")
        return frozenset(value)
