"""Evidence: a call through the adapter, its recording uploaded and sealed, and the borrower's copy
with the recording whose SHA-256 matches the ledger entry (issue 7, Proof; NIFA 2018: records kept
at least 5 years)."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from lendshield.collection import evidence
from lendshield.collection.models import RecordingRow
from lendshield.ledger.models import LedgerEntryRow
from lendshield.runtime import Runtime
from tests.collection.conftest import Case

AUDIO = b"RIFF\x00\x00\x00\x00WAVEfmt " + bytes(range(256)) * 40


def test_recording_is_sealed_hashed_into_the_ledger_and_given_to_the_borrower(
    rt: Runtime, client: TestClient, case: Case, make_actor
) -> None:  # type: ignore[no-untyped-def]
    call = client.post("/v1/collection/contacts", json={"loan_id": case.loan, "channel": "call"}, headers=case.collector.headers).json()
    adapter = make_actor("telephony")
    up = client.post(
        f"/v1/collection/contacts/{call['id']}/recordings", content=AUDIO, headers=adapter.headers | {"content-type": "audio/wav"}
    )
    assert up.status_code == 201, up.text
    rec = up.json()
    assert rec["sha256"] == hashlib.sha256(AUDIO).hexdigest()
    assert rec["retain_until"].startswith(str((rt.clock.now() + timedelta(days=1825)).date()))
    with rt.sessions() as session:
        row = session.scalars(select(RecordingRow)).one()
        stored = (rt.settings.resolved_collection_blob_dir() / row.blob_name).read_bytes()
        entry = session.scalar(select(LedgerEntryRow).where(LedgerEntryRow.seq == rec["ledger_seq"]))
        items = evidence.for_subject(session, rt, case.borrower, who="system")
    assert AUDIO[20:200] not in stored  # sealed on disk
    assert entry is not None
    assert entry.details["sha256"] == rec["sha256"]
    (item,) = items
    ((name, data),) = item.files
    assert data == AUDIO
    assert item.record["recordings"][0]["file"] == name
    assert item.record["recordings"][0]["ledger_seq"] == rec["ledger_seq"]
    assert item.record["to"] == "本人"


def test_recording_upload_refusals(client: TestClient, case: Case, make_actor) -> None:  # type: ignore[no-untyped-def]
    call = client.post("/v1/collection/contacts", json={"loan_id": case.loan, "channel": "call"}, headers=case.collector.headers).json()
    url = f"/v1/collection/contacts/{call['id']}/recordings"
    cs = make_actor("customer_service")
    assert client.post(url, content=AUDIO, headers=cs.headers | {"content-type": "audio/wav"}).status_code == 403
    assert client.post(url, content=AUDIO, headers=case.collector.headers | {"content-type": "text/html"}).status_code == 400
    assert client.post(url, content=b"", headers=case.collector.headers | {"content-type": "audio/wav"}).status_code == 400
    missing = "/v1/collection/contacts/00000000-0000-0000-0000-000000000000/recordings"
    assert client.post(missing, content=AUDIO, headers=case.collector.headers | {"content-type": "audio/wav"}).status_code == 404
    # Recordings may be larger than the general body limit, up to their own limit.
    big = b"\x00" * 2_000_000
    assert client.post(url, content=big, headers=case.collector.headers | {"content-type": "audio/wav"}).status_code == 201


def test_recordings_are_deleted_when_their_retention_ends(rt: Runtime, client: TestClient, case: Case, make_actor, clock) -> None:  # type: ignore[no-untyped-def]
    from lendshield.collection import recordings

    call = client.post("/v1/collection/contacts", json={"loan_id": case.loan, "channel": "call"}, headers=case.collector.headers).json()
    up = client.post(
        f"/v1/collection/contacts/{call['id']}/recordings", content=AUDIO, headers=case.collector.headers | {"content-type": "audio/wav"}
    )
    assert up.status_code == 201
    clock.advance(timedelta(days=1824))
    with rt.sessions() as session:
        assert recordings.purge_expired(session, rt) == 0  # five years are not over yet
        session.commit()
    clock.advance(timedelta(days=2))
    with rt.sessions() as session:
        assert recordings.purge_expired(session, rt, legal_hold=lambda _s, _b: True) == 0  # a legal hold keeps it
        assert recordings.purge_expired(session, rt) == 1
        session.commit()
    with rt.sessions() as session:
        row = session.scalars(select(RecordingRow)).one()
        (item,) = evidence.for_subject(session, rt, case.borrower, who="system")
    assert not list(rt.settings.resolved_collection_blob_dir().glob("*.sealed"))
    assert item.files == []
    assert item.record["recordings"][0]["deleted"] is True
    assert item.record["recordings"][0]["sha256"] == row.sha256
