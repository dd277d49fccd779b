"""Ledger endpoints over HTTP: public log views, authorization per role, bad input, witness."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from lendshield import ledger
from lendshield.cli.main import app as cli_app
from lendshield.ledger import merkle, note, tree
from lendshield.ledger.witness import Fork, WitnessKey, check_and_cosign
from lendshield.runtime import Runtime


def add(rt: Runtime, n: int, actor: str = "system", subject: str | None = None) -> None:
    with rt.sessions() as s:
        ref = ledger.subject_ref(rt.keys, subject) if subject else None
        for i in range(n):
            ledger.append(s, ledger.Entry(time=rt.clock.now(), actor=actor, action="test.op", object=f"o{i}", subject_ref=ref))
        s.commit()


def problem(resp: Any, status: int, code: str) -> None:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert resp.json()["code"] == code, resp.json()


def test_checkpoint_key_tiles_consistency(rt: Runtime, client: TestClient) -> None:
    problem(client.get("/v1/ledger/checkpoint"), 404, "ledger-no-checkpoint")
    add(rt, 300)
    tree.integrate_all(rt)
    add(rt, 5)
    tree.integrate_all(rt)
    key = client.get("/v1/ledger/key").text.strip()
    cp = note.verify_note(client.get("/v1/ledger/checkpoint").text, key)
    assert cp.size == 305
    full = client.get("/v1/ledger/tile/0/000")
    assert full.status_code == 200
    assert len(full.content) == 256 * 32
    part = client.get("/v1/ledger/tile/0/001.p/49")
    assert part.status_code == 200
    assert len(part.content) == 49 * 32
    assert client.get("/v1/ledger/tile/1/000.p/1").content == merkle.root_of([full.content[i : i + 32] for i in range(0, 8192, 32)])
    problem(client.get("/v1/ledger/tile/0/001"), 404, "ledger-tile-not-found")
    problem(client.get("/v1/ledger/tile/0/1"), 400, "ledger-bad-proof-request")
    problem(client.get("/v1/ledger/tile/0/000.p/300"), 400, "ledger-bad-proof-request")
    proof = client.get("/v1/ledger/consistency", params={"first": 300, "second": 305}).json()["proof"]
    with rt.sessions() as s:
        first = tree.checkpoint_at(s, 300)
        assert first is not None
        merkle.verify_consistency(300, 305, bytes(first.root), cp.root, [base64.b64decode(p) for p in proof])
    problem(client.get("/v1/ledger/consistency", params={"first": 5, "second": 2}), 400, "ledger-bad-proof-request")
    problem(client.get("/v1/ledger/consistency", params={"first": 7, "second": 305}), 400, "ledger-bad-proof-request")


def test_entry_authorization_and_errors(rt: Runtime, client: TestClient, make_actor: Any) -> None:
    officer, auditor, clerk, other = (
        make_actor("protection_officer"),
        make_actor("auditor"),
        make_actor("collector"),
        make_actor("collector"),
    )
    add(rt, 2, actor=clerk.principal.id, subject="s-1")
    tree.integrate_all(rt)
    key = tree.log_public_key(rt)
    # make_actor itself writes principal entries; pick the clerk's own entry.
    with rt.sessions() as s:
        from sqlalchemy import select

        from lendshield.ledger.models import LedgerEntryRow

        seq = s.execute(select(LedgerEntryRow.seq).where(LedgerEntryRow.actor == clerk.principal.id)).scalars().first()
    assert seq is not None
    for who in (officer, auditor, clerk):
        body = client.get(f"/v1/ledger/entries/{seq}", headers=who.headers).json()
        cp = note.verify_note(body["checkpoint"], key)
        proof = [base64.b64decode(p) for p in body["inclusion_proof"]]
        merkle.verify_inclusion(seq, cp.size, merkle.leaf_hash(body["body"].encode()), proof, cp.root)
    problem(client.get(f"/v1/ledger/entries/{seq}", headers=other.headers), 403, "ledger-entry-forbidden")
    assert client.get(f"/v1/ledger/entries/{seq}").status_code == 401
    problem(client.get("/v1/ledger/entries/999999", headers=auditor.headers), 404, "ledger-entry-not-found")
    add(rt, 1)
    with rt.sessions() as s:
        last = tree.latest(s)
        assert last is not None
        pending = last.size
    problem(client.get(f"/v1/ledger/entries/{pending}", headers=auditor.headers), 409, "ledger-not-integrated")
    assert client.get("/v1/ledger/entries/abc", headers=auditor.headers).status_code == 422
    # bundle: staff only
    bundle = client.get("/v1/ledger/subjects/s-1/bundle", headers=officer.headers)
    assert bundle.status_code == 200
    assert len(bundle.json()["entries"]) == 2
    assert client.get("/v1/ledger/subjects/s-1/bundle", headers=auditor.headers).status_code == 200
    problem(client.get("/v1/ledger/subjects/s-1/bundle", headers=clerk.headers), 403, "forbidden")


def test_verify_cli(rt: Runtime, client: TestClient, make_actor: Any, tmp_path: Path) -> None:
    officer = make_actor("protection_officer")
    add(rt, 3, subject="s-2")
    tree.integrate_all(rt)
    bundle = client.get("/v1/ledger/subjects/s-2/bundle", headers=officer.headers).json()
    key = client.get("/v1/ledger/key").text.strip()
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    runner = CliRunner()
    ok = runner.invoke(cli_app, ["verify", str(path), "--key", key])
    assert ok.exit_code == 0
    assert "OK 3 entries" in ok.output
    bundle["entries"][1]["body"] = bundle["entries"][1]["body"].replace("o1", "o7")
    path.write_text(json.dumps(bundle))
    bad = runner.invoke(cli_app, ["verify", str(path), "--key", key])
    assert bad.exit_code == 1
    assert "FAIL entry" in bad.output
    path.write_text("{not json")
    trunc = runner.invoke(cli_app, ["verify", str(path), "--key", key])
    assert trunc.exit_code == 1
    assert "unreadable" in trunc.output


def test_witness_cosigns_and_detects_fork(rt: Runtime, client: TestClient, tmp_path: Path) -> None:
    wkey = WitnessKey.create(tmp_path / "w.json", "witness.example/w1")
    rt.settings = rt.settings.model_copy(update={"ledger_witness_keys": [wkey.verifier_key()]})
    add(rt, 4)
    tree.integrate_all(rt)
    log_key = client.get("/v1/ledger/key").text.strip()

    def fetch(a: int, b: int) -> list[str]:
        proof: list[str] = client.get("/v1/ledger/consistency", params={"first": a, "second": b}).json()["proof"]
        return proof

    line, state = check_and_cosign(client.get("/v1/ledger/checkpoint").text, log_key, None, fetch, wkey, now=1_700_000_000)
    assert client.post("/v1/ledger/cosignatures", json={"size": state["size"], "line": line}).status_code == 201
    served = client.get("/v1/ledger/checkpoint").text
    assert served.endswith(line)
    note.verify_note(served, log_key)
    add(rt, 3)
    tree.integrate_all(rt)
    line2, state2 = check_and_cosign(client.get("/v1/ledger/checkpoint").text, log_key, state, fetch, wkey)
    assert state2["size"] == 7
    # a different root for a size already seen is a fork: never cosigned
    forged = dict(state2, root=base64.b64encode(bytes(32)).decode())
    with pytest.raises(Fork, match="two different roots"):
        check_and_cosign(client.get("/v1/ledger/checkpoint").text, log_key, forged, fetch, wkey)
    with pytest.raises(Fork, match="shrank"):
        check_and_cosign(client.get("/v1/ledger/checkpoint").text, log_key, dict(state2, size=99), fetch, wkey)
    # forged / unknown cosignatures are refused
    problem(client.post("/v1/ledger/cosignatures", json={"size": 4, "line": line2}), 422, "ledger-bad-cosignature")
    problem(client.post("/v1/ledger/cosignatures", json={"size": 4, "line": "garbage"}), 422, "ledger-bad-cosignature")
    other = WitnessKey.create(tmp_path / "o.json", "witness.example/w1")
    line3, _ = check_and_cosign(client.get("/v1/ledger/checkpoint").text, log_key, None, fetch, other)
    problem(client.post("/v1/ledger/cosignatures", json={"size": 7, "line": line3}), 422, "ledger-bad-cosignature")


def test_job_runner_integrates_in_process(rt: Runtime) -> None:
    import time

    from lendshield.web.app import create_app

    rt.settings = rt.settings.model_copy(update={"jobs_enabled": True, "ledger_integrate_interval_s": 0.05})
    rt.settings.model_fields_set.add("jobs_enabled")
    add(rt, 3)
    with TestClient(create_app(runtime=rt)) as c:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            resp = c.get("/v1/ledger/checkpoint")
            if resp.status_code == 200 and resp.text.split("\n")[1] == "3":
                break
            time.sleep(0.05)
        assert resp.status_code == 200
        assert resp.text.split("\n")[1] == "3"


def test_periodic_runner_survives_failing_task() -> None:
    from lendshield.jobs import PeriodicRunner

    calls: list[int] = []

    def boom() -> None:
        calls.append(1)
        raise RuntimeError("x")

    runner = PeriodicRunner()
    runner.every(0.01, "boom", boom)
    runner.run_pending()
    runner.run_pending()  # not yet due
    import time

    time.sleep(0.02)
    runner.run_pending()
    assert len(calls) == 2
