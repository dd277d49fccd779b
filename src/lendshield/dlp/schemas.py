"""Pydantic input and output of the dlp routes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from lendshield.dlp.config import PiiType

MAX_TEXT_CHARS = 1_000_000


class ScanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(max_length=MAX_TEXT_CHARS, description="Text to scan (values are never echoed back in clear).")
    context: str = Field(default="", max_length=200, description="A column header or field name whose context words apply.")


class FindingOut(BaseModel):
    type: PiiType
    start: int
    end: int
    masked: str
    confidence: float
    validator: str
    context: bool


class ScanOut(BaseModel):
    count: int
    findings: list[FindingOut]


class RedactIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(max_length=MAX_TEXT_CHARS)
    mode: Literal["mask", "replace", "hash"] = "mask"


class RedactOut(BaseModel):
    text: str
    values: int
