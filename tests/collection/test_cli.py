"""`lendshield collection`: rules and screening from the command line, as an operator checks templates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_cli import one_line_error, run


def test_screen_blocks_with_rule_and_span_and_exit_code(tmp_path: Path) -> None:
    bad = run(tmp_path, "collection", "screen", "再不还就把你的照片发到朋友圈")
    assert bad.returncode == 1
    assert "exposure-zh" in bad.stdout
    good = run(tmp_path, "collection", "screen", "您好，您本月的账单已出，请按时还款。")
    assert good.returncode == 0
    third = run(tmp_path, "collection", "screen", "--audience", "third_party", "他欠我们钱")
    assert third.returncode == 1
    assert "disclosure-zh" in third.stdout


def test_screen_a_templates_file(tmp_path: Path) -> None:
    templates = tmp_path / "templates.txt"
    templates.write_text("您好，请按时还款。\nPay up or else.\n\nYour statement is ready.\n", encoding="utf-8")
    out = run(tmp_path, "collection", "screen", "--templates", str(templates))
    assert out.returncode == 1
    assert out.stdout.splitlines() == [line for line in out.stdout.splitlines() if line.startswith("2: blocked")]
    (tmp_path / "bad.bin").write_bytes(b"\xff\xfe\x00")
    assert "UTF-8" in one_line_error(run(tmp_path, "collection", "screen", "--templates", str(tmp_path / "bad.bin")))
    assert "audience" in one_line_error(run(tmp_path, "collection", "screen", "x", "--audience", "everyone"))


def test_rules_show_the_preset_in_force(tmp_path: Path) -> None:
    cn = json.loads(run(tmp_path, "collection", "rules").stdout)
    assert cn["preset"] == "cn"
    assert cn["allowed_hours"]["id"] == "cn-hours"
    us = run(tmp_path, "collection", "rules", extra_env={"LENDSHIELD_COLLECTION_PRESET": "us_regf"})
    assert json.loads(us.stdout)["calls_per_debt_rolling"] == {"id": "regf-7-in-7", "max": 7, "days": 7}
    assert "no preset" in one_line_error(run(tmp_path, "collection", "rules", "--preset", "mars"))


def test_outbox_shows_what_the_demo_sent_masked_and_never_in_production(rt, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import os
    import subprocess
    import sys

    from lendshield.collection import delivery
    from tests.collection.test_delivery import OFFICER
    from tests.policy import gate_support as gs

    if rt.engine.dialect.name != "sqlite":
        pytest.skip("a CLI subprocess on the embedded default; the command's effects are tested on both backends elsewhere")
    sid = gs.borrower(rt)
    with rt.sessions() as session:
        delivery.send_message(session, rt, OFFICER, sid, "您的验证码 493817", reason="sign-in code", record_text=False)
        session.commit()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LENDSHIELD_")} | {
        "LENDSHIELD_DATA_DIR": str(rt.settings.data_dir),
        "LENDSHIELD_DATABASE_URL": rt.settings.resolved_database_url(),
    }

    def run(**extra: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "lendshield.cli", "collection", "outbox", "--last", "3"]
        return subprocess.run(cmd, env=env | extra, capture_output=True, text=True, timeout=120, check=False)

    shown = run()
    assert shown.returncode == 0, shown.stderr
    assert "138****5678" in shown.stdout
    assert "493817" in shown.stdout
    assert "13812345678" not in shown.stdout
    prod = run(LENDSHIELD_ENVIRONMENT="production")
    assert prod.returncode == 2
    assert "not production" in prod.stderr
