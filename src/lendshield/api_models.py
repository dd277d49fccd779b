"""Base classes of the API's pydantic models, shared by every domain's ``schemas`` module."""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """A request body: a key the API does not know is refused, never ignored."""

    model_config = ConfigDict(extra="forbid")


class View(BaseModel):
    """A response read from a service's dataclass or row by attribute name (nested views too)."""

    model_config = ConfigDict(from_attributes=True)

    @classmethod
    def of(cls, obj: object) -> Self:
        return cls.model_validate(obj)
