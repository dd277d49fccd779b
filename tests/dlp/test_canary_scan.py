"""`lendshield scan --check-canaries`: a canary's values found in a file raise alerts (issue 8, item 6)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from lendshield.cli import context
from lendshield.cli.main import app
from lendshield.principals import Principal
from lendshield.runtime import Runtime
from lendshield.subjects import service as subjects

PO = Principal(id="po-dlp-test", name="po", kind="staff", roles=frozenset({"protection_officer"}))
runner = CliRunner()


def test_scan_reports_canary_values_in_one_transaction(rt: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lendshield.watch import canaries

    with rt.sessions() as session:
        [canary] = canaries.create_canaries(session, rt, PO, 1, label="dlp-scan-test")
        session.commit()
    with rt.sessions() as session:
        view = subjects.read_fields(
            session, rt, PO, canary.subject_id, ["resident_id", "mobile", "bank_card"], purpose="rights_request", reason="test", clear=True
        )
        session.commit()
    values = {name: f.value for name, f in view.fields.items()}
    national = values["mobile"].removeprefix("+86")
    card = " ".join(values["bank_card"][i : i + 4] for i in range(0, len(values["bank_card"]), 4))
    mobile = f"{national[:3]}-{national[3:7]}-{national[7:]}"
    leaked = tmp_path / "leak"
    leaked.mkdir()
    # As a leaked export would carry them: the mobile without +86, the card in groups of four.
    (leaked / "people.csv").write_text(
        f"姓名,身份证号,手机,卡号\n某人,{values['resident_id']},{mobile},{card}\n",
        encoding="utf-8",
    )
    (leaked / "other.txt").write_text("手机 13912345678 不是诱饵\n", encoding="utf-8")
    monkeypatch.setattr(context, "runtime", lambda: rt)
    result = runner.invoke(app, ["scan", "--no-progress", "--format", "jsonl", "--check-canaries", str(leaked)])
    assert result.exit_code == 0, result.output
    assert "canary alerts raised: 3" in result.stderr
    again = runner.invoke(app, ["scan", "--no-progress", "--format", "jsonl", "--check-canaries", str(leaked)])
    assert "canary alerts raised: 0" in again.stderr  # the same scan on the same day adds nothing
    assert values["resident_id"] not in result.stdout + result.stderr


def test_each_canary_alert_names_the_file_and_line_it_was_found_in(rt: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy import select

    from lendshield.watch import canaries
    from lendshield.watch.models import AlertRow

    with rt.sessions() as session:
        [canary] = canaries.create_canaries(session, rt, PO, 1, label="dlp-scan-lines")
        session.commit()
    with rt.sessions() as session:
        view = subjects.read_fields(
            session, rt, PO, canary.subject_id, ["resident_id", "mobile"], purpose="rights_request", reason="test", clear=True
        )
        session.commit()
    rid, mobile = view.fields["resident_id"].value, view.fields["mobile"].value.removeprefix("+86")
    first = tmp_path / "export-a.csv"
    first.write_text(f"编号,手机\n1,13912345678\n2,{mobile}\n", encoding="utf-8")
    other = tmp_path / "logs"
    other.mkdir()
    second = other / "app.log"
    second.write_text(f"start\nlookup id={rid}\nok\nok\ncall {mobile}\n", encoding="utf-8")
    same_name = tmp_path / "copy"
    same_name.mkdir()
    (same_name / "app.log").write_text(f"call {mobile}\n", encoding="utf-8")
    monkeypatch.setattr(context, "runtime", lambda: rt)

    result = runner.invoke(app, ["scan", "--no-progress", "--format", "jsonl", "--check-canaries", str(first), str(other), str(same_name)])
    assert result.exit_code == 0, result.output
    assert "canary alerts raised: 4" in result.stderr
    with rt.sessions() as session:
        found = list(session.scalars(select(AlertRow).where(AlertRow.rule_id == "canary-scan-hit").order_by(AlertRow.id)))
    evidence = sorted((a.facts["source"], a.facts["kind"], tuple(a.facts["lines"])) for a in found)
    assert evidence == [
        ("app.log", "mobile", (1,)),  # the copy elsewhere with the same name is an alert of its own
        ("app.log", "mobile", (5,)),
        ("app.log", "resident_id", (2,)),
        ("export-a.csv", "mobile", (3,)),
    ]
    titles = sorted(a.title for a in found)
    assert "canary value found by a scan of export-a.csv, line 3" in titles
    for a in found:
        assert str(tmp_path) not in a.title + str(a.facts)  # the file's name, never its path
        assert rid not in a.title + str(a.facts)
        assert mobile not in a.title + str(a.facts)
