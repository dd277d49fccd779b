"""HTTP routes of the dlp domain."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["dlp"])
