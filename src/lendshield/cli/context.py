"""Lazily built settings and runtime for CLI commands."""

from __future__ import annotations

from functools import cache

from lendshield.runtime import Runtime, build_runtime
from lendshield.settings import Settings


@cache
def settings() -> Settings:
    return Settings()


@cache
def runtime() -> Runtime:
    return build_runtime(settings())
