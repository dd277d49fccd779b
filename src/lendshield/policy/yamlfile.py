"""YAML with line numbers: every mapping keeps the line it started on, for errors with file and line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from lendshield.errors import ConfigurationError

LINE = "__line__"
KEY_LINES = "__key_lines__"


class PolicyFileError(ConfigurationError):
    """A policy or purposes file is wrong; the message names the file and the line."""

    code = "policy-file-invalid"

    def __init__(self, file: str, line: int, message: str) -> None:
        super().__init__(f"{file}:{line}: {message}", file=file, line=line)
        self.file = file
        self.line = line
        self.message = message


class _LineLoader(yaml.SafeLoader):
    pass


def _mapping_with_line(loader: _LineLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    out: dict[Any, Any] = {}
    key_lines: dict[Any, int] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in out:
            raise PolicyFileError(node.start_mark.name, key_node.start_mark.line + 1, f"duplicate key '{key}'")
        out[key] = loader.construct_object(value_node, deep=True)
        key_lines[key] = key_node.start_mark.line + 1
    out[LINE] = node.start_mark.line + 1
    out[KEY_LINES] = key_lines
    return out


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_with_line)  # type: ignore[arg-type]


def load(path: Path) -> Any:
    """Parse one file; unreadable or malformed YAML is a PolicyFileError naming the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyFileError(path.name, 0, f"cannot be read ({exc.strerror})") from exc
    try:
        loader = _LineLoader(text)
        loader.name = path.name
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()  # type: ignore[no-untyped-call]
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 0
        raise PolicyFileError(path.name, line, f"not valid YAML: {exc.problem}") from exc
    except yaml.YAMLError as exc:
        raise PolicyFileError(path.name, 0, "not valid YAML") from exc


def line_of(node: Any, default: int = 0) -> int:
    if isinstance(node, dict):
        value = node.get(LINE, default)
        return int(value)
    return default


def key_line(node: Any, key: str, default: int = 0) -> int:
    """The line a key of a mapping is on (falls back to the mapping's own line)."""
    if isinstance(node, dict):
        return int(node.get(KEY_LINES, {}).get(key, line_of(node, default)))
    return default


def items(node: dict[Any, Any]) -> list[tuple[Any, Any]]:
    return [(k, v) for k, v in node.items() if k not in (LINE, KEY_LINES)]
