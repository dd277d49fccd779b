"""HTTP routes of the collection domain."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["collection"])
