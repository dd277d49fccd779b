"""Canary identities look real and are valid; files round-trip; normalisation survives re-formatting."""

from __future__ import annotations

import io
import json
from datetime import date

import phonenumbers
import pytest
from openpyxl import Workbook
from stdnum import luhn
from stdnum.cn import ric

from lendshield.catalog import load_catalog
from lendshield.catalog.validators import cn_resident_id
from lendshield.settings import Settings
from lendshield.transfers import canaries, formats
from lendshield.transfers.errors import UnreadableFile
from lendshield.transfers.fingerprint import normalise

CATALOG = load_catalog(Settings().policies_dir)
TODAY = date(2026, 12, 1)


def test_canary_values_pass_every_checksum() -> None:
    seen = set()
    for _ in range(200):
        c = canaries.identity(
            CATALOG, list(CATALOG.fields), today=TODAY, email_domain="mail.lendshield.example", taken=lambda _f, _v: False
        )
        rid = c["resident_id"]
        assert len(rid) == 18
        assert ric.calc_check_digit(rid) == rid[17]
        cn_resident_id("x", rid)  # and the catalog's own validator accepts it
        born = ric.get_birth_date(rid)
        assert 20 <= (TODAY - born).days // 365 <= 61
        number = phonenumbers.parse(c["mobile"], "CN")
        assert phonenumbers.is_valid_number(number)
        assert number.country_code == 86
        assert c["bank_card"].startswith("62")
        assert len(c["bank_card"]) == 19
        assert luhn.is_valid(c["bank_card"])
        assert luhn.is_valid(c["device_imei"])
        assert c["email"].endswith("@mail.lendshield.example")
        seen.add(rid)
    assert len(seen) == 200  # drawn at random, not from a fixed list


def test_canary_positions_are_random_and_in_range() -> None:
    runs = {tuple(canaries.positions(100, 5)) for _ in range(20)}
    assert len(runs) > 1
    for spots in runs:
        assert len(set(spots)) == 5
        assert all(0 <= s < 105 for s in spots)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("+8613812345678", "138 1234 5678"),
        ("+8613812345678", "+86-138-1234-5678"),
        ("+8613812345678", 13812345678),
        ("12000.00", "12000"),
        ("12000.00", 12000.0),
        ("11010519491231002X", "11010519491231002x"),
        ("6222020200112233446", "6222 0202 0011 2233 446"),
        ("北京市朝阳区建国路88号", " 北京市朝阳区建国路88号 "),
        ("１３８１２３４５６７８", "13812345678"),  # full-width digits (NFKC)
    ],
)
def test_normalisation_survives_reformatting(a: object, b: object) -> None:
    assert normalise(a) == normalise(b) is not None


def test_values_without_evidence_are_skipped() -> None:
    assert normalise("******") is None
    assert normalise("王") is None
    assert normalise(None) is None
    assert normalise(True) is None


COLUMNS = ["row_ref", "name", "mobile"]
ROWS = [["rabc", "王五", "+8613812345678"], ["rdef", "李四", "+8613912345678"]]


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "xlsx"])
def test_every_format_reads_back(fmt: str) -> None:
    data = formats.write(fmt, COLUMNS, ROWS)
    rows = list(formats.read_rows(data, f"x.{fmt}"))
    assert rows == [COLUMNS, *ROWS] if fmt != "jsonl" else rows == ROWS


def test_other_shapes_are_read() -> None:
    tsv = "name\tmobile\n王五\t13812345678\n".encode()
    assert list(formats.read_rows(tsv, "leak.tsv"))[1] == ["王五", "13812345678"]
    doc = json.dumps({"data": [{"n": "王五", "m": {"mobile": "13812345678"}}]}, ensure_ascii=False).encode()
    assert list(formats.read_rows(doc, "leak.json")) == [["王五", "13812345678"]]
    text = "客户 王五，电话：138 1234 5678；住址 北京\n".encode("gb18030")
    cells = next(iter(formats.read_rows(text, "chat.txt")))
    assert "王五" in cells
    assert "北京" in cells
    assert list(formats.read_rows(b"", "empty.csv")) == []


def test_spreadsheet_numbers_come_back_as_digits() -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["王五", 13812345678, 12000.0])
    buf = io.BytesIO()
    wb.save(buf)
    assert list(formats.read_rows(buf.getvalue(), "leak.xlsx")) == [["王五", "13812345678", "12000"]]


def test_a_broken_spreadsheet_is_one_clear_error() -> None:
    with pytest.raises(UnreadableFile):
        list(formats.read_rows(b"PK\x03\x04not really a zip", "leak.xlsx"))


def test_no_cell_becomes_a_formula() -> None:
    evil = [["r1", '=HYPERLINK("http://x")', "+cmd|' /C calc'!A0", "+8613812345678", "@SUM(A1)"]]
    rows = list(formats.read_rows(formats.write("csv", ["a", "b", "c", "d", "e"], evil), "x.csv"))
    assert rows[1] == ["r1", '\'=HYPERLINK("http://x")', "'+cmd|' /C calc'!A0", "+8613812345678", "'@SUM(A1)"]
    assert normalise(rows[1][1]) == normalise(evil[0][1])  # the fingerprint still matches
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(formats.write("xlsx", ["a", "b", "c", "d", "e"], evil)))
    ws = wb.worksheets[0]
    cell = ws.cell(row=2, column=2)
    assert cell.data_type == "s"
    assert cell.value == evil[0][1]


def test_malformed_input_is_one_clear_error() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(UnreadableFile):
        formats.read_all(deep, "deep.json", 10)
    huge_field = b'"' + b"x" * 200_000 + b'"\n'
    with pytest.raises(UnreadableFile):
        formats.read_all(huge_field, "big.csv", 10)
    assert len(formats.read_all(b"a,b\n" * 50, "many.csv", 10)) == 11  # stops one past the limit
