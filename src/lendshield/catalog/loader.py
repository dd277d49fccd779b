"""Load and check ``catalog.yaml``; the loaded catalog is immutable."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lendshield.catalog.errors import CatalogError, UnknownField
from lendshield.catalog.masks import MASKS, Mask
from lendshield.catalog.validators import VALIDATORS, Validated, Validator


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    label_zh: str
    label_en: str
    category: str
    sensitive: bool
    validator_name: str
    mask_name: str
    blind_index: bool
    _validator: Validator = field(repr=False, compare=False)
    _mask: Mask = field(repr=False, compare=False)

    def validate(self, value: str, path: str | None = None) -> Validated:
        if not isinstance(value, str):
            from lendshield.catalog.errors import FieldInvalid

            raise FieldInvalid(path or self.name, "must be a string")
        return self._validator(path or self.name, value)

    def mask(self, value: str) -> str:
        return self._mask(value)


@dataclass(frozen=True, slots=True)
class Catalog:
    fields: Mapping[str, FieldSpec]
    categories: Mapping[str, Mapping[str, str]]
    roles: Mapping[str, Mapping[str, str]]

    def field(self, name: str, path: str | None = None) -> FieldSpec:
        spec = self.fields.get(name)
        if spec is None:
            raise UnknownField(path or name)
        return spec


def _require(mapping: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in mapping:
        raise CatalogError(f"catalog.yaml: {where}: missing '{key}'")
    return mapping[key]


def parse_catalog(doc: Any) -> Catalog:
    if not isinstance(doc, dict):
        raise CatalogError("catalog.yaml: not a mapping")
    categories = _require(doc, "categories", "top level")
    roles = _require(doc, "roles", "top level")
    fields: dict[str, FieldSpec] = {}
    for name, raw in (_require(doc, "fields", "top level") or {}).items():
        where = f"fields.{name}"
        if not isinstance(raw, dict):
            raise CatalogError(f"catalog.yaml: {where}: not a mapping")
        category = _require(raw, "category", where)
        if category not in categories:
            raise CatalogError(f"catalog.yaml: {where}: unknown category '{category}'")
        validator = _require(raw, "validator", where)
        mask = _require(raw, "mask", where)
        if validator not in VALIDATORS:
            raise CatalogError(f"catalog.yaml: {where}: unknown validator '{validator}'")
        if mask not in MASKS:
            raise CatalogError(f"catalog.yaml: {where}: unknown mask '{mask}'")
        fields[name] = FieldSpec(
            name=name,
            label_zh=str(_require(raw, "label_zh", where)),
            label_en=str(_require(raw, "label_en", where)),
            category=category,
            sensitive=bool(_require(raw, "sensitive", where)),
            validator_name=validator,
            mask_name=mask,
            blind_index=bool(raw.get("blind_index", False)),
            _validator=VALIDATORS[validator],
            _mask=MASKS[mask],
        )
    return Catalog(fields=fields, categories=categories, roles=roles)


def load_catalog(policies_dir: Path) -> Catalog:
    path = policies_dir / "catalog.yaml"
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CatalogError(f"catalog.yaml could not be read: {exc}") from exc
    return parse_catalog(doc)
