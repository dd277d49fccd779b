"""Rights flows and emergency contacts' relations: the access package names third parties by
their relation, opened as the officer with one ``subject.relations`` entry that is in the
package's own ledger bundle (the borrower's timeline) and carries no relation text; erasure needs
only the contacts' ids and opens no relation at all."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from lendshield import ledger
from lendshield.ledger.models import LedgerEntryRow
from lendshield.rights import flows, package
from lendshield.rights.models import RightsRequestRow
from lendshield.runtime import Runtime
from lendshield.subjects import links
from lendshield.subjects import service as subjects
from lendshield.subjects.errors import SubjectShredded
from tests.collection.conftest import Case, case  # noqa: F401  (the fixture)
from tests.collection.test_relations_ledger import RELATIONS, assert_no_relation_text, relation_entries


def test_the_access_package_records_the_relations_it_opens_on_the_borrower_s_timeline(
    rt: Runtime,
    client: TestClient,
    case: Case,  # noqa: F811
    make_actor: Any,
) -> None:
    third = client.post(
        "/v1/collection/contacts", json={"loan_id": case.loan, "channel": "call", "target_id": case.spouse}, headers=case.collector.headers
    )
    assert third.status_code == 403  # refused, and kept as evidence for the borrower
    officer = make_actor("protection_officer").principal
    before = len(relation_entries(rt))
    request = RightsRequestRow(id=str(uuid.uuid4()), type="access", subject_id=case.borrower)
    with rt.sessions() as session:
        archive = zipfile.ZipFile(io.BytesIO(package.build(session, rt, officer, request)))
        session.commit()
    data = json.loads(archive.read("data.json"))
    assert "配偶" in {item["record"]["to"] for item in data["collection"]["items"]}  # the borrower's copy names the relation
    entries = relation_entries(rt)
    assert len(entries) == before + 1
    entry = entries[-1]
    assert entry.actor == officer.id
    assert entry.subject_ref == ledger.subject_ref(rt.keys, case.borrower)
    assert json.loads(entry.body)["purpose"] == "rights_request"
    bundle = json.loads(archive.read("ledger/bundle.json"))
    assert entry.seq in [e["seq"] for e in bundle["entries"]]  # proved in the package's own bundle
    assert all(r not in archive.read("ledger/bundle.json").decode() for r in RELATIONS)
    assert_no_relation_text(rt)


def test_erasure_opens_no_relation(rt: Runtime, case: Case, make_actor: Any, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    def refuse(*_a: object) -> str:
        raise AssertionError("a relation was opened")

    monkeypatch.setattr(links, "open_relation", refuse)
    officer = make_actor("protection_officer").principal
    with rt.sessions() as session:
        erased = flows.erase(session, rt, officer, case.borrower, ground="other_law", request_id=None, reason="test erasure")
        session.commit()
    assert set(erased) == {case.borrower, case.spouse, case.guarantor}
    with rt.sessions() as session:
        for sid in erased:
            with pytest.raises(SubjectShredded):
                subjects.require_live(session, sid)
        shreds = session.scalars(select(LedgerEntryRow.action).where(LedgerEntryRow.action == "subject.shred")).all()
    assert len(shreds) == 3
    assert relation_entries(rt) == []
