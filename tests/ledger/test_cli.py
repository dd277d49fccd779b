"""`lendshield ledger integrate|audit|key` through Typer against the test database."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from lendshield import ledger
from lendshield.cli import context
from lendshield.cli.main import app
from lendshield.ledger.models import LedgerEntryRow
from lendshield.runtime import Runtime


@pytest.fixture
def cli(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setattr(context, "runtime", lambda: rt)
    return CliRunner()


def test_integrate_then_audit_then_tamper(rt: Runtime, cli: CliRunner) -> None:
    with rt.sessions() as s:
        for i in range(5):
            ledger.append(s, ledger.Entry(time=rt.clock.now(), actor="system", action="test.op", object=f"o{i}"))
        s.commit()
    res = cli.invoke(app, ["ledger", "integrate"])
    assert res.exit_code == 0, res.output
    assert "signed size 5" in res.output
    assert "nothing new" in cli.invoke(app, ["ledger", "integrate"]).output
    assert cli.invoke(app, ["ledger", "key"]).output.startswith(rt.settings.ledger_origin + "+")
    ok = cli.invoke(app, ["ledger", "audit"])
    assert ok.exit_code == 0, ok.output
    with rt.sessions() as s:
        row = s.get(LedgerEntryRow, 2)
        assert row is not None
        row.body = row.body.replace('"seq":2', '"seq":3')
        s.commit()
    bad = cli.invoke(app, ["ledger", "audit"])
    assert bad.exit_code == 1
    assert "entry 2" in bad.output
    assert "reordered" in bad.output
