"""`lendshield report OUT`: the compliance report as PDF, HTML or JSON from the command line; stored and logged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lendshield.ops.models import ReportRow
from lendshield.runtime import Runtime


def test_report_command_writes_each_form_and_stores_it(rt: Runtime, tmp_path: Path) -> None:
    if rt.engine.dialect.name != "sqlite":
        pytest.skip("a CLI subprocess on the embedded default; the command's effects are tested on both backends elsewhere")
    env = os.environ | {"LENDSHIELD_DATA_DIR": str(rt.settings.data_dir), "LENDSHIELD_DATABASE_URL": rt.settings.resolved_database_url()}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "lendshield.cli", "report", *args], env=env, capture_output=True, text=True, timeout=120, check=False
        )

    pdf = run(str(tmp_path / "r.pdf"))
    assert pdf.returncode == 0, pdf.stderr
    assert (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF-")
    js = run(str(tmp_path / "r.json"), "--format", "json", "--start", "2026-01-01", "--end", "2026-06-30")
    assert js.returncode == 0, js.stderr
    assert json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["period"]["end"] == "2026-06-30"
    bad = run(str(tmp_path / "x"), "--format", "docx")
    assert bad.returncode == 2
    assert "pdf, html or json" in bad.stderr
    assert run(str(tmp_path / "x"), "--start", "June").returncode == 2
    with rt.sessions() as session:
        assert session.scalar(select(func.count()).select_from(ReportRow)) == 2
