"""HTTP routes of the loans domain."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["loans"])
