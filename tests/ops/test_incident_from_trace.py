"""An incident scoped from a leak trace (issue 10, item 4): a leaked file is traced to its export,
and everyone in that export becomes an affected person with the export's categories."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from lendshield.ledger import subject_ref
from tests.transfers.support import borrowers
from tests.transfers.test_exports_trace import CREDIT, csv_rows, export, trace


def test_an_incident_takes_its_affected_people_from_the_traced_export(client: TestClient, make_actor: Any, rt: Any) -> None:
    maker, officer = make_actor("risk_officer"), make_actor("protection_officer")
    people = borrowers(rt, 400, 6, CREDIT)
    borrowers(rt, 410, 3, CREDIT)  # not exported: not affected
    res = export(client, maker.headers, people)
    assert res.status_code == 201, res.text
    header, rows = csv_rows(res.content)
    leaked = ("\n".join(",".join(r) for r in [header, *rows[:3]]) + "\n").encode()
    traced = trace(client, officer.headers, "leak.csv", leaked).json()
    export_id = traced["candidates"][0]["export_id"]
    assert export_id == res.headers["x-lendshield-export-id"]

    made = client.post(
        "/v1/incidents",
        json={
            "title": "Export leaked",
            "cause": "a file was posted online",
            "harm": "identity misuse",
            "remedies": "removed",
            "advice": "watch for calls",
            "contact": "dpo@lender.example",
        },
        headers=officer.headers,
    )
    incident = made.json()["id"]
    scoped = client.post(f"/v1/incidents/{incident}/scope-export", json={"export_id": export_id}, headers=officer.headers)
    assert scoped.json() == {"affected": 6}
    notices = client.get(f"/v1/incidents/{incident}/notices", headers=officer.headers).json()
    refs = {n["subject_ref"] for n in notices["people"]}
    assert refs == {subject_ref(rt.keys, p) for p in people}
    assert client.post(f"/v1/incidents/{incident}/scope-export", json={"export_id": "nope"}, headers=officer.headers).status_code == 404
    assert client.post(f"/v1/incidents/{incident}/scope-export", json={"export_id": export_id}, headers=maker.headers).status_code == 403
