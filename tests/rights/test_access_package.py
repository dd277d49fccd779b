"""Access and portability (PIPL Art. 45; 网络数据安全管理条例 Art. 25) over HTTP: the borrower files
from their portal session, the protection officer fulfils, the borrower downloads a zip whose
ledger bundle `lendshield verify` accepts."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from lendshield.cli.main import app as cli_app
from lendshield.runtime import Runtime
from tests.policy import gate_support as gs
from tests.rights import support as s


def _fulfilled_package(client: TestClient, rt: Runtime, make_actor: Any, request_type: str) -> tuple[s.Person, zipfile.ZipFile]:
    me = s.person(rt, sign_in=request_type == "access")  # once through the real portal sign-in
    gs.give(rt, me.subject_id, "marketing")
    officer = make_actor("protection_officer")
    req = s.file(client, me.headers, request_type)
    assert req["status"] == "open"
    assert req["verified"]
    assert req["channel"] == "portal"
    assert client.post(f"/v1/rights/requests/{req['id']}/assign", json={}, headers=officer.headers).json()["status"] == "in_progress"
    done = client.post(f"/v1/rights/requests/{req['id']}/fulfil", json={}, headers=officer.headers)
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "fulfilled"
    assert done.json()["has_package"]
    got = client.get(f"/v1/rights/requests/{req['id']}/package", headers=me.headers)
    assert got.status_code == 200
    assert got.headers["content-type"] == "application/zip"
    return me, zipfile.ZipFile(io.BytesIO(got.content))


def test_access_package_holds_everything_and_its_bundle_verifies(rt: Runtime, client: TestClient, make_actor: Any, tmp_path: Path) -> None:
    me, archive = _fulfilled_package(client, rt, make_actor, "access")
    names = set(archive.namelist())
    assert {"data.json", "README.txt", "fields.csv", "consents.csv", "requests.csv", "ledger/bundle.json"} <= names
    data = json.loads(archive.read("data.json"))
    assert data["format"] == "lendshield-access-package/v1"
    assert data["subject"]["id"] == me.subject_id
    # Fields in clear, read through the gate for the purpose rights_request.
    assert data["fields"]["name"]["value"] == gs.ADULT["name"]
    assert data["fields"]["mobile"]["value"] == "+8613812345678"
    assert data["fields"]["bank_card"]["category"] == "financial_account"
    assert any(c["purpose"] == "marketing" and c["action"] == "grant" for c in data["consents"])
    assert [r["type"] for r in data["requests"]] == ["access"]
    assert data["recipients"] == {"available": True, "items": []}  # provided to no one (see the test below)
    assert data["collection"] == {"available": True, "items": []}  # never contacted by collection
    readme = archive.read("README.txt").decode()
    assert "个人信息副本" in readme
    assert "Copy of your personal information" in readme
    rows = list(csv.reader(io.StringIO(archive.read("fields.csv").decode("utf-8-sig"))))
    assert rows[0] == ["field", "category", "value", "version"]
    assert ["name", "identity", gs.ADULT["name"], "1"] in rows

    bundle = json.loads(archive.read("ledger/bundle.json"))
    actions = [json.loads(e["body"])["action"] for e in bundle["entries"]]
    assert "rights.file" in actions
    assert "subject.rights_package" in actions
    path = tmp_path / "bundle.json"
    path.write_bytes(archive.read("ledger/bundle.json"))
    key = client.get("/v1/ledger/key").text.strip()
    result = CliRunner().invoke(cli_app, ["verify", str(path), "--key", key])
    assert result.exit_code == 0, result.output
    assert f"OK {len(bundle['entries'])} entries" in result.output


def test_portability_package_is_machine_readable_fields_and_consents(rt: Runtime, client: TestClient, make_actor: Any) -> None:
    _me, archive = _fulfilled_package(client, rt, make_actor, "portability")
    data = json.loads(archive.read("data.json"))
    assert data["format"] == "lendshield-portability-package/v1"
    assert data["fields"]["email"]["value"] == gs.ADULT["email"]
    assert "ledger/bundle.json" not in archive.namelist()
    assert "fields.csv" in archive.namelist()


def test_package_is_refused_to_others_and_before_fulfilment(rt: Runtime, client: TestClient, make_actor: Any) -> None:
    me = s.person(rt)
    other = s.person(rt, mobile="13987654321")
    collector = make_actor("collector")
    req = s.file(client, me.headers, "access")
    s.problem(client.get(f"/v1/rights/requests/{req['id']}/package", headers=me.headers), 409, "rights-request-state")
    s.problem(client.get(f"/v1/rights/requests/{req['id']}/package", headers=other.headers), 403, "not-your-data")
    s.problem(client.get(f"/v1/rights/requests/{req['id']}/package", headers=collector.headers), 403, "rights-forbidden")
    s.problem(client.post(f"/v1/rights/requests/{req['id']}/fulfil", json={}, headers=collector.headers), 403, "rights-forbidden")


def test_the_package_names_who_received_the_data(rt: Runtime, client: TestClient, make_actor: Any) -> None:
    from tests.transfers.support import borrowers, make_recipient

    officer, clerk = make_actor("protection_officer"), make_actor("customer_service")
    partner = make_recipient(client, officer.headers)
    (sid,) = borrowers(rt, 0, 1, [("marketing", "purpose"), ("marketing", "third_party")])
    payload = {"recipient_id": partner, "purpose": "marketing", "subject_ids": [sid], "fields": ["name", "mobile"]}
    assert client.post("/v1/transfers/provisions", json=payload, headers=clerk.headers).status_code == 201
    req = s.file(client, clerk.headers, "access", subject_id=sid)
    assert client.post(f"/v1/rights/requests/{req['id']}/verification", headers=clerk.headers).status_code == 202
    code = s.last_code(rt, sid)
    assert (
        client.post(f"/v1/rights/requests/{req['id']}/verification/confirm", json={"code": code}, headers=clerk.headers).status_code == 200
    )
    assert client.post(f"/v1/rights/requests/{req['id']}/fulfil", json={}, headers=officer.headers).status_code == 200
    got = client.get(f"/v1/rights/requests/{req['id']}/package", headers=officer.headers)
    data = json.loads(zipfile.ZipFile(io.BytesIO(got.content)).read("data.json"))
    assert data["recipients"]["available"] is True
    (receipt,) = data["recipients"]["items"]
    assert receipt["recipient_id"] == partner
    assert receipt["recipient_name"] == "示例营销合作有限公司"
    assert receipt["fields"] == ["name", "mobile"]
