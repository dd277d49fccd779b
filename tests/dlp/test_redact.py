"""`lendshield redact`: values replaced, the file's format kept (issue 8, item 3)."""

from __future__ import annotations

import csv
import io
import json
import random
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from lendshield.cli.main import app
from lendshield.dlp import Scanner, default_config
from lendshield.dlp import synthetic as syn
from lendshield.dlp.errors import RedactionFailed, ScanInputInvalid
from lendshield.dlp.redact import RedactStats, hasher, label, redact_path, redact_text_stream
from lendshield.runtime import Runtime
from lendshield.subjects import service as subjects

RNG = random.Random(88)
RID = syn.resident_id(RNG)
MOBILE = syn.mobile(RNG)
CARD = syn.bank_card(RNG, 16)
CONFIG = default_config()
runner = CliRunner()


def test_text_mask_and_replace_through_the_cli(tmp_path: Path) -> None:
    src = tmp_path / "note.txt"
    src.write_text(f"借款人：张伟，身份证 {RID}，手机 +86 {MOBILE[:3]} {MOBILE[3:7]} {MOBILE[7:]}。\n第二行不变\n", encoding="utf-8")
    out = tmp_path / "masked.txt"
    result = runner.invoke(app, ["redact", str(src), str(out), "--mode", "mask"])
    assert result.exit_code == 0, result.output
    masked = out.read_text(encoding="utf-8")
    assert RID not in masked
    assert MOBILE[7:] in masked  # the mask keeps the last four digits
    assert f"{RID[:6]}********{RID[-4:]}" in masked
    assert masked.endswith("第二行不变\n")
    result = runner.invoke(app, ["redact", str(src), str(tmp_path / "labels.txt"), "-m", "replace"])
    assert (tmp_path / "labels.txt").read_text(
        encoding="utf-8"
    ) == "借款人：[PERSON_NAME]，身份证 [RESIDENT_ID]，手机 [MOBILE]。\n第二行不变\n"


def test_streaming_redaction_across_window_edges() -> None:
    # Small windows: values land on every kind of edge; each is replaced exactly once.
    config = CONFIG.model_copy(update={"chunk_chars": 4096})
    scanner = Scanner(config)
    rng = random.Random(4)
    values = [syn.resident_id(rng) for _ in range(3000)]
    text = "".join(f"证{'啊' * rng.randint(0, 9)} {v} " for v in values)
    out = io.StringIO()
    stats = RedactStats()
    redact_text_stream(io.StringIO(text), out, scanner, label, stats)
    assert stats.values == len(values)
    expected = text
    for v in values:
        expected = expected.replace(v, "[RESIDENT_ID]", 1)
    assert out.getvalue() == expected


def test_csv_keeps_its_columns_and_rows(tmp_path: Path) -> None:
    src = tmp_path / "loans.csv"
    rows = [["id", "身份证号", "备注", "金额"], ["1", RID, f'他说"手机{MOBILE}",再联系', "1,000.00"], ["2", "", "无", "5"]]
    with src.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    stats = redact_path(str(src), str(tmp_path / "out.csv"), mode="replace", kind=None, config=CONFIG)
    assert stats.values == 2
    with (tmp_path / "out.csv").open(newline="", encoding="utf-8") as f:
        got = list(csv.reader(f))
    assert got == [rows[0], ["1", "[RESIDENT_ID]", '他说"手机[MOBILE]",再联系', "1,000.00"], rows[2]]


def test_json_and_jsonl_stay_valid(tmp_path: Path) -> None:
    doc = {"borrower": {"id": RID, "phone": int(MOBILE), "cards": [CARD], "note": "无"}, "count": 3}
    (tmp_path / "in.json").write_text(json.dumps(doc, ensure_ascii=False, indent=2), encoding="utf-8")
    redact_path(str(tmp_path / "in.json"), str(tmp_path / "out.json"), mode="replace", kind=None, config=CONFIG)
    out = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert out == {"borrower": {"id": "[RESIDENT_ID]", "phone": "[MOBILE]", "cards": ["[BANK_CARD]"], "note": "无"}, "count": 3}
    lines = [json.dumps({"m": f"卡号 {CARD}"}, ensure_ascii=False), "", "not json 13812345678"]
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    stats = redact_path(str(tmp_path / "in.jsonl"), str(tmp_path / "out.jsonl"), mode="replace", kind=None, config=CONFIG)
    got = (tmp_path / "out.jsonl").read_text(encoding="utf-8").split("\n")
    assert json.loads(got[0]) == {"m": "卡号 [BANK_CARD]"}
    assert got[1:] == ["", "not json [MOBILE]", ""]
    assert stats.problems == ["1 lines are not JSON; they were redacted as text"]


def test_xlsx_stays_a_workbook(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "借款人"
    ws.append(["姓名", "身份证号", "手机", "公式"])
    ws.append(["王五", RID, int(MOBILE), "=1+1"])
    wb.save(tmp_path / "in.xlsx")
    result = runner.invoke(app, ["redact", str(tmp_path / "in.xlsx"), str(tmp_path / "out.xlsx"), "-m", "mask"])
    assert result.exit_code == 0, result.output
    out = openpyxl.load_workbook(tmp_path / "out.xlsx")
    rows = list(out["借款人"].iter_rows(values_only=True))
    assert rows[0] == ("姓名", "身份证号", "手机", "公式")
    assert rows[1][1] == f"{RID[:6]}********{RID[-4:]}"
    assert rows[1][2] == f"{MOBILE[:3]}****{MOBILE[-4:]}"
    assert rows[1][3] == "=1+1"  # formulas are left alone


def test_keyed_hash_is_stable_per_value_and_depends_on_the_key() -> None:
    scanner = Scanner()
    a, b = scanner.scan(f"手机 {MOBILE}")[0], scanner.scan(f"手机 +86-{MOBILE[:3]}-{MOBILE[3:7]}-{MOBILE[7:]}")[0]
    mark = hasher(b"k" * 32)
    assert mark(a) == mark(b)  # the same number written two ways
    assert mark(a) != hasher(b"j" * 32)(a)
    assert MOBILE not in mark(a)
    assert mark(a).startswith("[mobile:")


def test_hash_mode_uses_the_runtime_secret(rt: Runtime, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(f"身份证 {RID}\n", encoding="utf-8")
    (tmp_path / "b.csv").write_text(f"身份证号\n{RID}\n", encoding="utf-8")
    redact_path(str(tmp_path / "a.txt"), str(tmp_path / "a.out"), mode="hash", kind=None, config=CONFIG, runtime=rt)
    redact_path(str(tmp_path / "b.csv"), str(tmp_path / "b.out"), mode="hash", kind=None, config=CONFIG, runtime=rt)
    text_mark = (tmp_path / "a.out").read_text(encoding="utf-8").split()[1]
    csv_mark = (tmp_path / "b.out").read_text(encoding="utf-8").split()[1]
    assert text_mark == csv_mark
    assert text_mark == hasher(rt.keys.secret("dlp/redaction-hash"))(Scanner().scan(RID)[0])


def test_token_mode_uses_the_vault_through_the_gate(rt: Runtime, make_actor, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    writer = make_actor("loan_system")
    fields = {"name": "李四", "resident_id": RID, "mobile": MOBILE}
    with rt.sessions() as session:
        sid, _ = subjects.create_subject(session, rt, writer.principal, kind="borrower", fields=fields)
        session.commit()
    stranger = syn.mobile(random.Random(1))
    (tmp_path / "in.txt").write_text(f"手机 {MOBILE}；另一个 {stranger}；身份证 {RID}\n", encoding="utf-8")
    stats = redact_path(
        str(tmp_path / "in.txt"),
        str(tmp_path / "out.txt"),
        mode="token",
        kind=None,
        config=CONFIG,
        runtime=rt,
        principal=writer.principal.name,
        purpose="loan_servicing",
    )
    out = (tmp_path / "out.txt").read_text(encoding="utf-8")
    with rt.sessions() as session:
        mobile_token = subjects.tokenize(session, rt, writer.principal, sid, "mobile", purpose="loan_servicing")
        rid_token = subjects.tokenize(session, rt, writer.principal, sid, "resident_id", purpose="loan_servicing")
    assert out == f"手机 {mobile_token}；另一个 [MOBILE]；身份证 {rid_token}\n"
    assert stats.not_in_vault == 1
    assert MOBILE not in out


def test_bad_inputs_are_one_line_errors_and_leave_no_output(tmp_path: Path) -> None:
    src = tmp_path / "x.csv"
    src.write_text(f'a,b\n"open,{RID}\n', encoding="utf-8")
    with pytest.raises(RedactionFailed, match="malformed CSV"):
        redact_path(str(src), str(tmp_path / "y.csv"), mode="mask", kind=None, config=CONFIG)
    assert not (tmp_path / "y.csv").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["x.csv"]  # no temporary file left behind
    with pytest.raises(RedactionFailed, match="OUT must not be IN"):
        redact_path(str(src), str(src), mode="mask", kind=None, config=CONFIG)
    (tmp_path / "bin.dat").write_bytes(b"\x00\x01" * 100)
    with pytest.raises(RedactionFailed, match="binary"):
        redact_path(str(tmp_path / "bin.dat"), str(tmp_path / "o"), mode="mask", kind=None, config=CONFIG)
    with pytest.raises(RedactionFailed, match="token mode needs"):
        redact_path(str(tmp_path / "x.csv"), str(tmp_path / "o"), mode="token", kind="text", config=CONFIG, runtime=object())  # type: ignore[arg-type]
    result = runner.invoke(app, ["redact", str(src), str(tmp_path / "z"), "--mode", "shred"])
    assert isinstance(result.exception, ScanInputInvalid)
