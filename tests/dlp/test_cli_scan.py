"""`lendshield scan` as an operator and a pipeline use it (issue 8, items 2 and 6; Bad input)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from lendshield.cli.main import app
from lendshield.dlp import synthetic as syn

LENDSHIELD = str(Path(sys.executable).parent / "lendshield")
RNG = random.Random(26)
RID = syn.resident_id(RNG)
MOBILE = syn.mobile(RNG)
CARD = syn.bank_card(RNG, 19)
runner = CliRunner()


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LENDSHIELD_")}
    return subprocess.run([LENDSHIELD, *args], input=stdin, env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "export"
    (root / "logs").mkdir(parents=True)
    (root / "logs" / "app.log").write_text(f"2026-11-23 10:00:01 INFO 借款人：张伟 身份证号 {RID} 手机 {MOBILE}\n", encoding="utf-8")
    (root / "loans.csv").write_text(f"id,身份证号,银行卡\n1,{RID},{CARD}\n", encoding="utf-8")
    (root / "contacts.tsv").write_text(f"name\tmobile\n李四\t{MOBILE}\n", encoding="utf-8")
    (root / "people.json").write_text(json.dumps({"people": [{"phone": MOBILE, "id": RID}]}, ensure_ascii=False), encoding="utf-8")
    (root / "events.jsonl").write_text(json.dumps({"msg": f"卡号 {CARD}"}, ensure_ascii=False) + "\n", encoding="utf-8")
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["姓名", "身份证号", "手机"])
    ws.append(["王五", RID, int(MOBILE)])  # a phone number typed in as a number
    wb.save(root / "sheet.xlsx")
    (root / "clean.txt").write_text("nothing personal here\n", encoding="utf-8")
    return root


def scan_jsonl(*args: str) -> tuple[int, list[dict[str, object]], str]:
    result = runner.invoke(app, ["scan", "--format", "jsonl", "--no-progress", *args])
    records = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return result.exit_code, records, result.stderr


def test_directory_tree_every_format_masked_by_default(tree: Path) -> None:
    code, records, err = scan_jsonl(str(tree))
    assert code == 0, err
    by_file: dict[str, set[str]] = {}
    for r in records:
        by_file.setdefault(Path(str(r["path"])).name, set()).add(str(r["type"]))
    assert by_file == {
        "app.log": {"person_name", "resident_id", "mobile"},
        "loans.csv": {"resident_id", "bank_card"},
        "contacts.tsv": {"mobile"},
        "people.json": {"mobile", "resident_id"},
        "events.jsonl": {"bank_card"},
        "sheet.xlsx": {"resident_id", "mobile"},
    }
    everything = json.dumps(records, ensure_ascii=False)
    assert RID not in everything
    assert MOBILE not in everything
    assert CARD not in everything
    assert all(r["masked"] for r in records)
    log = next(r for r in records if r["type"] == "resident_id" and str(r["path"]).endswith("app.log"))
    assert (log["line"], log["column"]) == (1, 38)
    cell = next(r for r in records if str(r["path"]).endswith("sheet.xlsx") and r["type"] == "mobile")
    assert cell["where"] == "Sheet!C2"
    assert "7 inputs" in err


def test_show_values_prints_them(tree: Path) -> None:
    _, records, _ = scan_jsonl("--show-values", "--type", "resident_id", str(tree / "loans.csv"))
    assert [r["value"] for r in records] == [RID]


def test_sarif_structure(tree: Path) -> None:
    (tree / "broken.json").write_text('{"a": ', encoding="utf-8")
    result = runner.invoke(app, ["scan", "--format", "sarif", "--no-progress", str(tree)])
    assert result.exit_code == 4
    log = json.loads(result.stdout)
    assert log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-2.1.0.json")
    [run_] = log["runs"]
    rules = run_["tool"]["driver"]["rules"]
    assert {r["id"] for r in rules} >= {"resident_id", "mobile", "bank_card"}
    assert run_["results"]
    for res in run_["results"]:
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"]
        assert res["level"] in ("none", "note", "warning", "error")
        assert res["message"]["text"]
        [loc] = res["locations"]
        assert loc["physicalLocation"]["artifactLocation"]["uri"]
        region = loc["physicalLocation"].get("region")
        if region:
            assert region["startLine"] >= 1
        assert RID not in res["message"]["text"]
    [invocation] = run_["invocations"]
    assert invocation["executionSuccessful"] is False
    [note] = invocation["toolExecutionNotifications"]
    assert "broken.json" in note["message"]["text"]
    assert note["descriptor"]["id"] == "malformed"


def test_table_output(tree: Path) -> None:
    result = runner.invoke(app, ["scan", "--no-progress", str(tree / "loans.csv")])
    assert result.exit_code == 0
    assert "resident_id" in result.stdout
    assert "bank_card" in result.stdout
    assert CARD[:6] + "*" * 9 + CARD[-4:] in result.stdout


def test_fail_on_threshold(tree: Path) -> None:
    path = str(tree / "loans.csv")
    assert runner.invoke(app, ["scan", "--no-progress", "--fail-on", "2", path]).exit_code == 1
    assert runner.invoke(app, ["scan", "--no-progress", "--fail-on", "3", path]).exit_code == 0
    assert runner.invoke(app, ["scan", "--no-progress", "--fail-on", "1", str(tree / "clean.txt")]).exit_code == 0


def test_bad_inputs_are_reported_per_file_and_the_scan_goes_on(tmp_path: Path) -> None:
    (tmp_path / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200))
    (tmp_path / "latin1.txt").write_bytes("身份证 ".encode() + b"\xff\xfe " + RID.encode() + b"\n")
    (tmp_path / "bad.csv").write_text(f'a,b\n"unterminated,{RID}\n', encoding="utf-8")
    (tmp_path / "bad.jsonl").write_text(f'{{"ok": "{MOBILE}"}}\nnot json {CARD}\n', encoding="utf-8")
    (tmp_path / "bad.xlsx").write_bytes(b"PK\x03\x04 this is not a workbook")
    (tmp_path / "long.txt").write_text("x" * 3_000_000 + f" 身份证 {RID} " + "y" * 1_000_000, encoding="utf-8")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    code, records, err = scan_jsonl(str(tmp_path), str(tmp_path / "missing.txt"))
    assert code == 4
    found = {(Path(str(r["path"])).name, r["type"]) for r in records}
    assert ("latin1.txt", "resident_id") in found  # scanned despite the invalid bytes
    assert ("bad.csv", "resident_id") in found  # scanned on as text after the CSV error
    assert ("bad.jsonl", "mobile") in found
    assert ("bad.jsonl", "bank_card") in found
    assert ("long.txt", "resident_id") in found  # a 4-million-character line
    for name, says in [
        ("image.png", "binary"),
        ("latin1.txt", "not valid UTF-8"),
        ("bad.csv", "malformed CSV"),
        ("bad.jsonl", "not JSON"),
        ("bad.xlsx", "not a readable XLSX"),
        ("dangling", "no such file"),
        ("missing.txt", "no such file"),
    ]:
        assert any(name in line and says in line for line in err.splitlines()), (name, err)
    assert RID not in err


def test_stdin_and_exit_codes_end_to_end() -> None:
    text = f"联系人 王芳 手机 +86 {MOBILE[:3]} {MOBILE[3:7]} {MOBILE[7:]}\n"
    result = run("scan", "-f", "jsonl", "--fail-on", "1", "-", stdin=text)
    assert result.returncode == 1, result.stderr
    assert [json.loads(line)["type"] for line in result.stdout.splitlines()] == ["person_name", "mobile"]
    assert MOBILE not in result.stdout
    bad = run("scan", "--format", "xml", "-", stdin="")
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == ["error: --format: one of table, jsonl, sarif"]


def test_jobs_across_processes_give_the_same_findings(tree: Path) -> None:
    _, one, _ = scan_jsonl(str(tree))
    _, two, _ = scan_jsonl("--jobs", "2", str(tree))
    assert one == two


def test_engines_give_the_same_report(tree: Path) -> None:
    _, hs, _ = scan_jsonl("--engine", "auto", str(tree))
    _, rx, _ = scan_jsonl("--engine", "re", str(tree))
    assert hs == rx


def test_unknown_options_are_one_line_errors() -> None:
    from lendshield.errors import LendShieldError

    for args in (["--type", "shoe_size", "-"], ["--as", "pdf", "-"], ["--engine", "grep", "-"]):
        result = runner.invoke(app, ["scan", *args], input="")
        assert isinstance(result.exception, LendShieldError), args


def test_a_large_text_file_is_shared_among_processes(tmp_path: Path) -> None:
    from lendshield.dlp import default_config
    from lendshield.dlp.filescan import FileResult, ScanOptions, scan_paths

    rng = random.Random(5)
    big = tmp_path / "big.log"
    with big.open("w", encoding="utf-8") as f:
        for i in range(6000):
            f.write(f"{i} 借款人：王芳 身份证号 {syn.resident_id(rng)} 手机 {syn.mobile(rng)}\n")
    (tmp_path / "small.txt").write_text(f"卡号 {CARD}\n", encoding="utf-8")
    options = ScanOptions(config=default_config(), split_bytes=100_000)  # split anything over 100 kB
    paths = [str(big), str(tmp_path / "small.txt")]
    one = list(scan_paths(paths, options, jobs=1))
    two = list(scan_paths(paths, options, jobs=2))
    assert [r.path for r in two] == paths

    def where(results: list[FileResult]) -> list[tuple[int | None, int | None, str, str, float]]:
        return [(x.line, x.column, x.finding.type, x.finding.value, x.finding.confidence) for x in results[0].findings]

    assert where(two) == where(one)
    assert len(two[0].findings) == 18000
    assert two[0].findings[-1].line == 6000
    assert two[1].findings == one[1].findings
