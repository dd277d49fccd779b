from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from lendshield.errors import LendShieldError
from lendshield.web.deps import RuntimeDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Not ready: the database or the keys do not answer"}})
def readyz(rt: RuntimeDep) -> dict[str, str]:
    """Readiness: the database answers and the keys are loaded (503 otherwise, for the load balancer)."""
    try:
        with rt.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        raise NotReady("the database does not answer") from exc
    try:
        rt.keys.current_kek_version()
    except LendShieldError as exc:
        raise NotReady("the keys are not available") from exc
    return {"status": "ready"}


class NotReady(LendShieldError):
    status = 503
    code = "not-ready"
    title = "Not ready"
