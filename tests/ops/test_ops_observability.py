"""Readiness answers 503 when the database does not; /metrics carries the restore-drill age for alerting."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from lendshield.crypto import LocalKeyFile
from lendshield.crypto.backup_keys import generate_identity
from lendshield.ops.backup import make_backup
from lendshield.ops.drill import restore_drill
from lendshield.principals import SYSTEM
from lendshield.runtime import Runtime
from lendshield.settings import Settings
from lendshield.web.app import create_app


def test_readyz_is_503_problem_json_when_the_database_does_not_answer(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    LocalKeyFile.create(data / "keys.json")
    unreachable = f"sqlite:///{tmp_path / 'no-such-dir' / 'lendshield.db'}"
    app = create_app(Settings(environment="test", data_dir=data, database_url=unreachable))
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/healthz").status_code == 200  # alive ...
        resp = client.get("/readyz")  # ... but not ready
    assert resp.status_code == 503
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["code"] == "not-ready"
    assert "/" not in resp.json()["detail"]  # no path or URL in the answer


def _gauge(client: TestClient, name: str) -> float:
    line = next(ln for ln in client.get("/metrics").text.splitlines() if ln.startswith(name + " "))
    return float(line.split()[1])


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # one indexed query; the drill on both: test_backup_drill
def test_metrics_report_the_restore_drill_age(rt: Runtime, client: TestClient, make_actor, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    make_actor("loan_system")  # the deployment's first ledger entry: in service from now
    assert _gauge(client, "lendshield_restore_drill_overdue") == 0.0  # never drilled, but the first drill is not due yet
    assert _gauge(client, "lendshield_restore_drill_last_good_timestamp_seconds") == 0.0
    rt.clock.advance(timedelta(days=rt.settings.drill_max_age_days, seconds=1))  # type: ignore[attr-defined]
    assert _gauge(client, "lendshield_restore_drill_overdue") == 1.0  # now it is
    identity = tmp_path / "backup.key"
    backup = make_backup(rt, tmp_path / "backups", generate_identity(identity), SYSTEM)
    assert restore_drill(rt, backup.path, identity, SYSTEM, sample=1).ok
    assert _gauge(client, "lendshield_restore_drill_overdue") == 0.0
    assert _gauge(client, "lendshield_restore_drill_last_good_timestamp_seconds") == rt.clock.now().timestamp()
