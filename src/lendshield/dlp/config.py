"""The scanner's rules from ``dlp.yaml``: per-type confidence, context words and limits.

Confidence follows keyword proximity (as in Microsoft Purview's sensitive-information types):
a value that passes its checks starts at ``base``; a context word within ``context_window``
characters before it (or in its column header / JSON key) adds ``boost``.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from lendshield.dlp.errors import DlpConfigInvalid

PiiType = Literal[
    "resident_id",
    "mobile",
    "bank_card",
    "uscc",
    "passport",
    "licence_plate",
    "landline",
    "email",
    "ipv4",
    "ipv6",
    "address",
    "person_name",
]
PII_TYPES: tuple[PiiType, ...] = get_args(PiiType)
CONFIG_FILE = "dlp.yaml"


class TypeRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    description: str = Field(min_length=1, max_length=200)
    base: float = Field(ge=0.0, le=1.0)
    boost: float = Field(ge=0.0, le=1.0)
    context: tuple[str, ...] = ()

    @field_validator("context")
    @classmethod
    def _normalise_context(cls, words: tuple[str, ...]) -> tuple[str, ...]:
        # Matched against NFKC-normalised, lower-cased text, so the words are stored that way too.
        out = tuple(unicodedata.normalize("NFKC", w).lower() for w in words)
        if any(not w.strip() for w in out):
            raise ValueError("context words must not be empty")
        return out


class DlpConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    min_confidence: float = Field(default=0.5, ge=0.0, le=1.0)
    context_window: int = Field(default=40, ge=0, le=400)
    chunk_chars: int = Field(default=1_048_576, ge=4096, le=64 * 1_048_576)
    max_document_bytes: int = Field(default=64 * 1_048_576, ge=1024)
    max_line_chars: int = Field(default=16 * 1_048_576, ge=1024)
    max_findings_per_file: int = Field(default=100_000, ge=1)
    types: dict[PiiType, TypeRule]

    @model_validator(mode="after")
    def _every_type(self) -> DlpConfig:
        missing = [t for t in PII_TYPES if t not in self.types]
        if missing:
            raise ValueError(f"types: missing {', '.join(missing)}")
        return self


def parse_config(text: str, source: str = CONFIG_FILE) -> DlpConfig:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DlpConfigInvalid(f"{source}: not valid YAML") from exc
    if not isinstance(raw, dict):
        raise DlpConfigInvalid(f"{source}: expected a mapping at the top level")
    try:
        return DlpConfig.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise DlpConfigInvalid(f"{source}: {where}: {first['msg']}") from exc


@cache
def default_config() -> DlpConfig:
    """The rules shipped with the package (``lendshield/policies/dlp.yaml``)."""
    text = resources.files("lendshield").joinpath("policies", CONFIG_FILE).read_text(encoding="utf-8")
    return parse_config(text)


def load_config(policies_dir: Path) -> DlpConfig:
    """``dlp.yaml`` from the configured policies directory (``settings.policies_dir``)."""
    path = policies_dir / CONFIG_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DlpConfigInvalid(f"{CONFIG_FILE}: cannot read it from the policies directory ({exc.strerror})") from exc
    return parse_config(text)
