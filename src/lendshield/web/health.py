from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from lendshield.web.deps import RuntimeDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(rt: RuntimeDep) -> dict[str, str]:
    """Readiness: the database answers and the keys are loaded."""
    with rt.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    rt.keys.current_kek_version()
    return {"status": "ready"}
