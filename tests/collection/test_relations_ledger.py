"""Opening an emergency contact's relation is an access like any read: collection routing (the
targets list, a contact attempt) writes one ``subject.relations`` entry per call, as the collector,
for the purpose ``collection``, on the borrower's timeline; the relation text is never in it."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import select

from lendshield import ledger
from lendshield.collection import evidence
from lendshield.ledger import proofs, tree
from lendshield.ledger.models import LedgerEntryRow
from lendshield.runtime import Runtime
from lendshield.web import portal_views
from tests.collection.conftest import Case

RELATIONS = ("配偶", "担保人")


def relation_entries(rt: Runtime) -> list[LedgerEntryRow]:
    with rt.sessions() as session:
        return list(
            session.scalars(select(LedgerEntryRow).where(LedgerEntryRow.action == "subject.relations").order_by(LedgerEntryRow.seq))
        )


def assert_no_relation_text(rt: Runtime) -> None:
    """No ledger entry anywhere (body or details) carries a relation, in any form."""
    with rt.sessions() as session:
        rows = session.scalars(select(LedgerEntryRow)).all()
    for row in rows:
        stored = row.body + json.dumps(row.details or {}, ensure_ascii=False) + json.dumps(row.details or {})
        for relation in RELATIONS:
            assert relation not in stored, row.action
            assert json.dumps(relation) not in stored, row.action  # \\u-escaped


def test_the_targets_list_records_one_entry_for_the_relations_it_opened(rt: Runtime, client: TestClient, case: Case) -> None:
    assert relation_entries(rt) == []
    resp = client.get(f"/v1/collection/loans/{case.loan}/targets", headers=case.collector.headers)
    assert resp.status_code == 200, resp.text
    assert {t["relation"] for t in resp.json()} == {"本人", *RELATIONS}  # the collector still sees them
    (entry,) = relation_entries(rt)
    body = json.loads(entry.body)
    assert entry.actor == case.collector.principal.id
    assert entry.subject_ref == ledger.subject_ref(rt.keys, case.borrower)
    assert body["object"] == "relations:2"
    assert body["purpose"] == "collection"
    assert entry.details == {"opened": 2, "category": "relationship"}
    assert_no_relation_text(rt)


def test_a_contact_attempt_opens_only_the_target_s_relation_and_records_it(rt: Runtime, client: TestClient, case: Case) -> None:
    debtor = client.post("/v1/collection/contacts", json={"loan_id": case.loan, "channel": "call"}, headers=case.collector.headers)
    assert debtor.status_code == 201, debtor.text
    assert relation_entries(rt) == []  # the debtor: no relation opened, nothing to record
    third = client.post(
        "/v1/collection/contacts", json={"loan_id": case.loan, "channel": "call", "target_id": case.spouse}, headers=case.collector.headers
    )
    assert third.status_code == 403  # an emergency contact while the debtor is reachable: refused, and recorded
    (entry,) = relation_entries(rt)
    assert entry.actor == case.collector.principal.id
    assert json.loads(entry.body)["object"] == "relations:1"
    assert entry.details == {"opened": 1, "category": "relationship"}
    assert_no_relation_text(rt)


def test_the_entry_is_on_the_borrower_s_timeline(rt: Runtime, client: TestClient, case: Case) -> None:
    assert client.get(f"/v1/collection/loans/{case.loan}/targets", headers=case.collector.headers).status_code == 200
    with rt.sessions() as session:
        tree.integrate(session, rt)
        session.commit()
    with rt.sessions() as session:
        bundle = proofs.bundle_for_subject(session, rt, case.borrower)
    actions = [json.loads(e["body"])["action"] for e in bundle["entries"]]
    assert actions.count("subject.relations") == 1
    rows = portal_views.timeline(
        rt,
        bundle,
        account_id="acct",
        roles_of={case.collector.principal.id: frozenset({"collector"})},
        tz=ZoneInfo("Asia/Shanghai"),
        lang="en",
        gettext=lambda s: s,
    )
    (row,) = [r for r in rows if r.action == "subject.relations"]
    assert row.category == "Access to your data"
    assert row.who.startswith("Staff: ")
    assert all(rel not in json.dumps(bundle, ensure_ascii=False) for rel in RELATIONS)


def test_evidence_names_third_parties_by_relation_with_one_entry(rt: Runtime, client: TestClient, case: Case) -> None:
    third = client.post(
        "/v1/collection/contacts", json={"loan_id": case.loan, "channel": "call", "target_id": case.spouse}, headers=case.collector.headers
    )
    assert third.status_code == 403
    client.post(
        "/v1/collection/contacts",
        json={"loan_id": case.loan, "channel": "call", "target_id": case.guarantor},
        headers=case.collector.headers,
    )
    before = len(relation_entries(rt))
    with rt.sessions() as session:
        items = evidence.for_subject(session, rt, case.borrower, who="po-1")
        session.commit()
    assert {i.record["to"] for i in items} <= {"本人", *RELATIONS}
    assert "配偶" in {i.record["to"] for i in items}
    entries = relation_entries(rt)
    assert len(entries) == before + 1  # one entry for the whole copy, however many contacts
    assert entries[-1].actor == "po-1"
    assert json.loads(entries[-1].body)["purpose"] == "rights_request"
    assert_no_relation_text(rt)
