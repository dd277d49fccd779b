"""HTTP routes of the consent domain."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["consent"])
