"""HTTP routes of the transfers domain."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["transfers"])
