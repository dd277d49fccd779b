"""Staff exports are fingerprinted and hold only the people asked for; a leaked fragment is traced back.

The Proof of issue 8: an export, 10% of its rows re-sorted with two columns dropped and saved as
XLSX, is traced to the right export and not to another export made in the same test.
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import Sequence
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook
from typer.testing import CliRunner

from lendshield.cli import context
from lendshield.cli.main import app
from lendshield.runtime import Runtime
from lendshield.transfers import config
from lendshield.transfers.trace import canary_hits
from tests.transfers.support import borrowers, entries, person

CREDIT = [("credit_assessment", "purpose"), ("credit_assessment", "sensitive")]  # PIPL Art. 29
FIELDS = ["name", "resident_id", "mobile", "address", "bank_card", "income"]


def export(client: TestClient, headers: dict[str, str], people: list[str], fmt: str = "csv") -> Any:
    payload = {
        "purpose": "credit_assessment",
        "subject_ids": people,
        "fields": FIELDS,
        "format": fmt,
        "clear": True,
        "reason": "quarterly model validation",
    }
    return client.post("/v1/transfers/exports", json=payload, headers=headers)


def csv_rows(content: bytes) -> tuple[list[str], list[list[str]]]:
    header, *rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    return header, rows


def xlsx(rows: Sequence[Sequence[object]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def trace(client: TestClient, headers: dict[str, str], name: str, data: bytes) -> Any:
    return client.post("/v1/transfers/trace", files={"file": (name, data)}, headers=headers)


@pytest.fixture
def cli(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setattr(context, "runtime", lambda: rt)
    return CliRunner()


def test_a_leaked_fragment_is_traced_to_its_export(client: TestClient, make_actor: Any, rt: Runtime, cli: CliRunner, tmp_path: Any) -> None:
    maker, other_maker = make_actor("risk_officer", name="risk-wang"), make_actor("risk_officer", name="risk-li")
    officer = make_actor("protection_officer")
    a_people = borrowers(rt, 100, 60, CREDIT)
    borrowers(rt, 160, 5, CREDIT)  # consenting, readable, but not asked for
    b_people = a_people[:10] + borrowers(rt, 170, 20, CREDIT)

    res = export(client, maker.headers, a_people)
    assert res.status_code == 201, res.text
    a_id, a_file = res.headers["x-lendshield-export-id"], res.content
    header, rows = csv_rows(a_file)
    canaries = config.load(rt.settings.policies_dir).fingerprint.canaries_for(60)
    assert header == ["row_ref", *FIELDS]
    assert len(rows) == 60 + canaries
    assert len({r[0] for r in rows}) == len(rows)  # row references are unique

    # Byte for byte: every requested person is in the file, no one else is (canaries are no one).
    for i in range(100, 160):
        assert person(i)["resident_id"].encode() in a_file
    for i in range(160, 165):
        for name, value in person(i).items():
            if name in FIELDS and name != "income":
                assert value.encode() not in a_file, (i, name)
            assert value[-8:].encode() not in a_file or name in ("income", "address"), (i, name)
    assert len(entries(rt, "subject.export")) == 60  # each read went through the vault's gate

    res_b = export(client, other_maker.headers, b_people, fmt="jsonl")
    assert res_b.status_code == 201
    b_id = res_b.headers["x-lendshield-export-id"]

    # The leak: 10% of A's rows, re-sorted, row_ref and resident_id dropped, numbers re-typed, as XLSX.
    sample = random.Random(20261201).sample(rows, k=len(rows) // 10)
    keep = [header.index(c) for c in header if c not in ("row_ref", "resident_id")]
    leaked = sorted(([r[i] for i in keep] for r in sample), key=lambda r: r[0])
    for r in leaked:
        r[1] = r[1].removeprefix("+86")  # mobile as people type it
    data = xlsx([[header[i] for i in keep], *[[*r[:3], int(r[3]), float(r[4])] for r in leaked]])

    got = trace(client, officer.headers, "leak.xlsx", data)
    assert got.status_code == 200, got.text
    report = got.json()
    assert report["verdict"] in ("pinned", "consistent")
    first = report["candidates"][0]
    assert first["export_id"] == a_id
    assert first["made_by"] == maker.principal.id
    assert first["made_by_name"] == "risk-wang"
    assert first["purpose"] == "credit_assessment"
    assert first["rows_matched"] == len(leaked)
    assert first["covers_all"] is True
    assert first["values_matched"] >= 3 * len(leaked)
    assert all(not (c["export_id"] == b_id and (c["covers_all"] or c["pinned"])) for c in report["candidates"])

    # The same through the command line; and a single canary row of B, pasted into a chat, pins B.
    path = tmp_path / "leak.xlsx"
    path.write_bytes(data)
    out = cli.invoke(app, ["trace", str(path)])
    assert out.exit_code == 0, out.output
    assert a_id in out.output.splitlines()[1]
    assert "risk-wang" in out.output
    b_rows = [json.loads(line) for line in res_b.content.decode().splitlines()]
    known = {person(i)["resident_id"] for i in [*range(100, 110), *range(170, 190)]}
    canary = next(r for r in b_rows if r["resident_id"] not in known)
    chat = tmp_path / "chat.txt"
    chat.write_text(f"有人卖这个：{canary['name']} {canary['mobile']} 卡号 {canary['bank_card']}\n", encoding="utf-8")
    pinned = json.loads(cli.invoke(app, ["trace", str(chat), "--json"]).output)
    assert pinned["verdict"] == "pinned"
    assert pinned["candidates"][0]["export_id"] == b_id
    assert pinned["candidates"][0]["canaries_matched"] == 1
    assert pinned["candidates"][0]["made_by_name"] == "risk-li"
    with rt.sessions() as session:
        hits = canary_hits(session, rt, [canary["bank_card"], person(100)["bank_card"], "not a value"])
    assert hits == {canary["bank_card"]: b_id}  # for the scanner and the watch: a canary, and whose

    # A file with nothing of ours names no export (exit 1); each trace is in the ledger, with counts only.
    unrelated = tmp_path / "other.csv"
    unrelated.write_text("name,mobile\n赵六,13700000000\n", encoding="utf-8")
    none = cli.invoke(app, ["trace", str(unrelated)])
    assert none.exit_code == 1
    assert "no_match" in none.output
    logged = entries(rt, "transfer.trace")
    assert len(logged) == 4
    first_trace: dict[str, Any] = dict(logged[0].details or {})
    assert first_trace["exports"][0] == a_id
    assert canary["mobile"] not in str([e.body for e in logged] + [e.details for e in logged])

    meta = client.get(f"/v1/transfers/exports/{a_id}", headers=officer.headers).json()
    assert meta["people"] == 60
    assert meta["canaries"] == canaries
    assert meta["kind"] == "export"


def test_export_and_trace_denials_and_bad_input(client: TestClient, make_actor: Any, rt: Runtime) -> None:
    people = borrowers(rt, 200, 2, CREDIT)
    for role in ("collector", "auditor", "admin", "device_operator", "collection_supervisor"):
        res = export(client, make_actor(role).headers, people)
        assert res.status_code == 403, role
    for role in ("customer_service", "risk_officer", "auditor", "collector"):
        assert trace(client, make_actor(role).headers, "x.csv", b"a,b\n").status_code == 403, role
    assert entries(rt, "transfer.export") == []
    assert entries(rt, "transfer.trace") == []

    risk, officer = make_actor("risk_officer"), make_actor("protection_officer")
    no_reason = client.post(
        "/v1/transfers/exports",
        json={"purpose": "credit_assessment", "subject_ids": people, "fields": FIELDS, "clear": True},
        headers=risk.headers,
    )
    assert no_reason.status_code == 400
    assert no_reason.json()["code"] == "reason-required"
    unknown = export(client, risk.headers, [*people, "00000000-0000-0000-0000-000000000000"])
    assert unknown.json()["failures"] == [{"condition": "subject_unknown", "people": 1, "detail": "no such data subject"}]
    # A person without the separate consent for sensitive data: the gate refuses, the whole file is blocked.
    (bare,) = borrowers(rt, 210, 1, [("credit_assessment", "purpose")])
    blocked = export(client, risk.headers, [*people, bare])
    assert blocked.status_code == 403
    assert {f["condition"] for f in blocked.json()["failures"]} == {"field_denied"}
    assert all(f["people"] == 1 for f in blocked.json()["failures"])
    bad = trace(client, officer.headers, "leak.xlsx", b"PK\x03\x04broken")
    assert bad.status_code == 400
    assert bad.json()["code"] == "unreadable-file"
    assert client.get("/v1/transfers/exports/nope", headers=officer.headers).status_code == 404
    assert client.get("/v1/transfers/exports/nope", headers=make_actor("collector").headers).status_code == 403
    assert len(entries(rt, "transfer.export")) == 2  # both refusals are in the ledger


def test_two_exports_of_the_same_people_are_told_apart_only_by_their_canaries(client: TestClient, make_actor: Any, rt: Runtime) -> None:
    risk, officer = make_actor("risk_officer"), make_actor("protection_officer")
    people = borrowers(rt, 300, 20, CREDIT)
    x, y = export(client, risk.headers, people), export(client, risk.headers, people)
    x_id, y_id = x.headers["x-lendshield-export-id"], y.headers["x-lendshield-export-id"]
    header, rows = csv_rows(x.content)
    real = {person(i)["resident_id"] for i in range(300, 320)}
    x_canaries = [r for r in rows if r[2] not in real]
    real_rows = [r for r in rows if r[2] in real][:3]

    def leak(selected: list[list[str]]) -> bytes:
        # Without row references, names or amounts: common values alone must not pin anything.
        cols = [i for i, c in enumerate(header) if c not in ("row_ref", "name", "income")]
        return xlsx([[header[i] for i in cols], *[[r[i] for i in cols] for r in selected]])

    same = trace(client, officer.headers, "same.xlsx", leak(real_rows)).json()
    assert same["verdict"] == "ambiguous"  # both exports hold these rows, and the report says so
    assert {c["export_id"] for c in same["candidates"] if c["covers_all"]} == {x_id, y_id}
    assert not any(c["pinned"] for c in same["candidates"])

    # A chat message with one person's number among other words still finds the exports holding it.
    chat = f"急售 客户 电话 {real_rows[0][3].removeprefix('+86')} 价格 面议 王五".encode()
    said = trace(client, officer.headers, "chat.txt", chat).json()
    assert said["rows_matched"] == 1
    assert {c["export_id"] for c in said["candidates"]} == {x_id, y_id}
    common = trace(client, officer.headers, "names.txt", f"{person(300)['name']} 12000\n".encode()).json()
    assert common["rows_matched"] == 0  # a name alone names no one

    pinned = trace(client, officer.headers, "pinned.xlsx", leak(real_rows + x_canaries[:1])).json()
    assert pinned["verdict"] == "pinned"
    assert [c["export_id"] for c in pinned["candidates"] if c["pinned"]] == [x_id]
    assert pinned["candidates"][0]["canaries_matched"] == 1
