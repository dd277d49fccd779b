"""The issue's end-to-end proof: a call through the adapter, its recording uploaded, the borrower
obtains it through an access request and checks its hash against the ledger (R11: 电话录音、催收
记录等来留下证据, 以便客户维护自身的合法权益; PIPL Art. 45)."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from typing import Any

from fastapi.testclient import TestClient

from lendshield.ledger.entry import digest_of
from lendshield.ledger.tree import integrate_all, log_public_key
from lendshield.ledger.verify import verify_bundle
from lendshield.loans.service import LoanEvent
from lendshield.runtime import Runtime
from tests.policy import gate_support as gs
from tests.rights import support as s

AUDIO = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(256)) * 16


def test_borrower_gets_the_recording_and_checks_it_against_the_ledger(rt: Runtime, client: TestClient, make_actor: Any) -> None:
    me = s.person(rt)
    collector, adapter, officer = make_actor("collector"), make_actor("telephony"), make_actor("protection_officer")
    gs.loan(
        rt,
        me.subject_id,
        "L-9",
        ("e1", LoanEvent(kind="overdue", overdue_days=20)),
        ("e2", LoanEvent(kind="assign", collector_id=collector.principal.id)),
    )

    call = client.post("/v1/collection/contacts", json={"loan_id": "L-9", "channel": "call"}, headers=collector.headers)
    assert call.status_code == 201, call.text
    up = client.post(
        f"/v1/collection/contacts/{call.json()['id']}/recordings", content=AUDIO, headers=adapter.headers | {"content-type": "audio/wav"}
    )
    assert up.status_code == 201, up.text

    req = s.file(client, me.headers, "access")
    assert client.post(f"/v1/rights/requests/{req['id']}/assign", json={}, headers=officer.headers).status_code == 200
    assert client.post(f"/v1/rights/requests/{req['id']}/fulfil", json={}, headers=officer.headers).status_code == 200
    integrate_all(rt)
    package = client.get(f"/v1/rights/requests/{req['id']}/package", headers=me.headers)
    assert package.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(package.content))

    data = json.loads(archive.read("data.json"))
    (item,) = data["collection"]["items"]
    (recording,) = item["record"]["recordings"]
    (name,) = [n for n in item["files"] if n.endswith(recording["file"])]
    audio = archive.read(name)
    assert audio == AUDIO
    sha = hashlib.sha256(audio).hexdigest()
    assert sha == recording["sha256"]

    # The borrower's own check, with the bundle alone: the entry that logged the recording is in
    # the signed log, and its details (holding the SHA-256) hash to the digest the leaf commits to.
    bundle = client.get(f"/v1/ledger/subjects/{me.subject_id}/bundle", headers=officer.headers).json()
    report = verify_bundle(bundle, log_public_key(rt))
    assert report.ok, report
    entry = next(e for e in bundle["entries"] if e["seq"] == recording["ledger_seq"])
    body = json.loads(entry["body"])
    assert body["action"] == "collection.recording"
    assert entry["details"]["sha256"] == sha
    assert body["details_digest"] == digest_of(entry["details"])
