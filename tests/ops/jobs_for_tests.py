"""Job handlers used only by the tests (loaded through the ``job_modules`` setting)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from lendshield import ledger
from lendshield.ops.queue import job
from lendshield.runtime import Runtime


@job("test.record")
def record(session: Session, rt: Runtime, payload: dict[str, Any]) -> None:
    """A database effect: one ledger entry per successful run."""
    ledger.append(session, ledger.Entry(time=rt.clock.now(), actor="system", action="test.job", object=str(payload["name"])))


@job("test.block_then_record")
def block_then_record(session: Session, rt: Runtime, payload: dict[str, Any]) -> None:
    """Signals that it started, then blocks (to be killed mid-job)."""
    Path(payload["started_flag"]).write_text("started")
    time.sleep(float(payload.get("sleep", 60)))
    record(session, rt, payload)


@job("test.fail")
def fail(session: Session, rt: Runtime, payload: dict[str, Any]) -> None:
    raise RuntimeError("this message could hold personal data 11010519491231002X")
