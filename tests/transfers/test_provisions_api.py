"""Provision to recipients over HTTP: every gate condition blocked with its reason and count, nothing leaves.

PIPL Arts. 21 and 23 (registered recipient, purpose, categories), Art. 38 (a valid mechanism abroad),
Arts. 23 and 39 (separate consents), Art. 13(2)-(7) (no consent where another legal basis applies),
and the 2024 cross-border rules' yearly volumes (REGULATION.md, [S]).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select

from lendshield.clock import FrozenClock
from lendshield.runtime import Runtime
from lendshield.transfers.models import ExportRow, VolumePersonRow, VolumeRow
from tests.transfers.support import ABROAD, body, borrowers, entries, make_recipient, person

MARKETING = [("marketing", "purpose"), ("marketing", "third_party")]
OVERSEAS = [("overseas_support", "purpose"), ("overseas_support", "cross_border")]


def provide(client: TestClient, headers: dict[str, str], recipient: str, people: list[str], **kw: Any) -> Any:
    payload = {"recipient_id": recipient, "purpose": "marketing", "subject_ids": people, "fields": ["name", "mobile"], **kw}
    return client.post("/v1/transfers/provisions", json=payload, headers=headers)


def failures(res: Any) -> dict[str, int]:
    assert res.status_code == 403, res.text
    assert res.headers["content-type"] == "application/problem+json"
    assert res.json()["code"] == "provision-blocked"
    return {f["condition"]: f["people"] for f in res.json()["failures"]}


def exports(rt: Runtime) -> int:
    with rt.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(ExportRow)) or 0)


def test_third_party_provision_needs_each_persons_separate_consent(client: TestClient, make_actor: Any, rt: Runtime) -> None:
    officer, service = make_actor("protection_officer"), make_actor("customer_service")
    partner = make_recipient(client, officer.headers)
    consenting = borrowers(rt, 0, 3, MARKETING)
    without = borrowers(rt, 3, 2, [("marketing", "purpose")])  # no separate third-party consent (PIPL Art. 23)
    (refused,) = borrowers(rt, 5, 1, [])  # never agreed to marketing at all

    blocked = provide(client, service.headers, partner, consenting + without)
    assert failures(blocked) == {"consent_missing:third_party": 2}
    assert "2 people" in blocked.json()["detail"]
    both = provide(client, service.headers, partner, [*consenting, *without, refused])
    assert failures(both) == {"consent_missing:purpose": 1, "consent_missing:third_party": 3}
    assert exports(rt) == 0
    refusal = entries(rt, "transfer.provision")[0]
    assert body(refusal)["decision"] == "deny"
    assert refusal.details == {"failures": [{"condition": "consent_missing:third_party", "people": 2}], "recipient": partner}
    assert entries(rt, "subject.provision") == []  # blocked before anything was read

    res = provide(client, service.headers, partner, consenting, format="jsonl")
    assert res.status_code == 201, res.text
    assert res.headers["content-type"] == "application/x-ndjson"
    export_id = res.headers["x-lendshield-export-id"]
    assert len(res.content.decode().splitlines()) == 3 + 2  # three people and two canaries
    assert len(entries(rt, "subject.provision")) == 3  # each person read through the vault's gate
    allowed = entries(rt, "transfer.provision")[-1]
    assert body(allowed)["object"] == f"export:{export_id}"
    assert allowed.details is not None
    assert allowed.details["people"] == 3
    assert allowed.details["canaries"] == 2
    # Counts only, never values, in the ledger. Ids, hashes and times are taken out first: a random
    # UUID may well contain a short value such as an income of "5000".
    ids = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32,}|\d{4}-\d\d-\d\dT[\d:.]+Z")
    recorded = ids.sub("<id>", allowed.body + str(allowed.details))
    for value in person(0).values():
        assert value not in recorded

    # The file, if it ever surfaces, names the provision and the recipient it went to.
    traced = client.post("/v1/transfers/trace", files={"file": ("partner.jsonl", res.content)}, headers=officer.headers).json()
    assert traced["verdict"] == "pinned"
    assert traced["candidates"][0]["export_id"] == export_id
    assert traced["candidates"][0]["kind"] == "provision"
    assert traced["candidates"][0]["recipient_name"] == "示例营销合作有限公司"
    assert traced["candidates"][0]["row_refs_matched"] == 5

    # Who received my data, and when (PIPL Art. 45): the provided person sees the partner, the others nothing.
    got = client.get(f"/v1/transfers/recipients-of/{consenting[0]}", headers=service.headers)
    assert got.status_code == 200
    (receipt,) = got.json()
    assert receipt["recipient_id"] == partner
    assert receipt["provision_id"] == export_id
    assert receipt["purpose"] == "marketing"
    assert receipt["fields"] == ["name", "mobile"]
    assert receipt["provided_at"].startswith("2026-11-23")
    assert client.get(f"/v1/transfers/recipients-of/{without[0]}", headers=officer.headers).json() == []
    assert len(entries(rt, "transfer.recipients_of")) == 2
    for role in ("collector", "auditor", "admin", "risk_officer"):
        assert client.get(f"/v1/transfers/recipients-of/{consenting[0]}", headers=make_actor(role).headers).status_code == 403


def test_each_gate_condition_is_named_with_its_count(client: TestClient, make_actor: Any, rt: Runtime) -> None:
    officer, service = make_actor("protection_officer"), make_actor("customer_service")
    partner = make_recipient(client, officer.headers)
    people = borrowers(rt, 10, 3, MARKETING)
    unknown = "00000000-0000-0000-0000-000000000000"

    assert failures(provide(client, service.headers, unknown, people)) == {"recipient_not_registered": 3}
    assert failures(provide(client, service.headers, partner, [*people, unknown])) == {"subject_unknown": 1}
    assert failures(provide(client, service.headers, partner, people, fields=["name", "address"])) == {
        "field_not_needed": 3,  # PIPL Art. 6: marketing does not need the address
        "category_not_registered": 3,
    }
    assert failures(provide(client, service.headers, partner, people, purpose="customer_support")) == {"purpose_not_registered": 3}
    narrow = make_recipient(client, officer.headers, categories=["identity"])
    res = provide(client, service.headers, narrow, people)
    assert failures(res) == {"category_not_registered": 3}
    assert "contact" in res.json()["detail"]

    # The vault's gate still decides what each role may read: a risk officer may not read for marketing.
    res = provide(client, make_actor("risk_officer").headers, partner, people)
    assert set(failures(res)) == {"read_denied"}
    assert sum(failures(res).values()) == 3
    assert len(entries(rt, "subject.provision")) == 3  # the refused reads are logged by the gate

    retired = make_recipient(client, officer.headers)
    client.delete(f"/v1/transfers/recipients/{retired}", headers=officer.headers)
    assert failures(provide(client, service.headers, retired, people)) == {"recipient_retired": 3}

    # Abroad, a third party also needs the separate cross-border consent; overseas support provides for none.
    abroad_party = make_recipient(client, officer.headers, **{**ABROAD, "kind": "third_party"})
    res = provide(client, service.headers, abroad_party, people, purpose="overseas_support")
    assert failures(res)["consent_not_provided_for:third_party"] == 3
    assert exports(rt) == 0
    assert len(entries(rt, "transfer.provision")) == 8

    for role in ("collector", "collection_supervisor", "auditor", "admin", "device_operator"):
        actor = make_actor(role)
        res = provide(client, actor.headers, partner, people)
        assert res.status_code == 403, role
        assert res.json()["code"] == "forbidden"
        payload = {"recipient_id": partner, "purpose": "marketing", "subject_ids": people, "fields": ["name"]}
        assert client.post("/v1/transfers/provisions/check", json=payload, headers=actor.headers).status_code == 403
    assert len(entries(rt, "transfer.provision")) == 8
    assert client.post("/v1/transfers/provisions", json={}, headers=service.headers).status_code == 422


def test_abroad_needs_cross_border_consent_and_an_unexpired_mechanism(
    client: TestClient, make_actor: Any, rt: Runtime, clock: FrozenClock
) -> None:
    officer, service = make_actor("protection_officer"), make_actor("customer_service")
    short = make_recipient(client, officer.headers, **{**ABROAD, "mechanism_valid_until": "2026-11-30"})
    later = make_recipient(client, officer.headers, **{**ABROAD, "mechanism_valid_from": "2027-01-01"})
    people = borrowers(rt, 20, 4, OVERSEAS)
    missing = borrowers(rt, 24, 2, [("overseas_support", "purpose")])  # no cross-border consent (PIPL Art. 39)

    res = provide(client, service.headers, short, people + missing, purpose="overseas_support", fields=["name", "email"])
    assert failures(res) == {"consent_missing:cross_border": 2}
    assert failures(provide(client, service.headers, later, people, purpose="overseas_support")) == {"mechanism_not_yet_valid": 4}
    ok = provide(client, service.headers, short, people, purpose="overseas_support", format="xlsx")
    assert ok.status_code == 201, ok.text
    assert ok.content[:2] == b"PK"

    # The daily check warns a week ahead (exit 1), so the contract is renewed before provisions stop.
    from typer.testing import CliRunner

    from lendshield.cli import context
    from lendshield.cli.main import app

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(context, "runtime", lambda: rt)
        warned = CliRunner().invoke(app, ["transfers", "recipients", "--expiring-within", "7"])
    assert warned.exit_code == 1, warned.output
    assert "2026-11-30 (7 days left)" in warned.output
    listed = client.get("/v1/transfers/exports?kind=provision", headers=officer.headers).json()
    assert [e["id"] for e in listed] == [ok.headers["x-lendshield-export-id"]]
    later = client.get(
        "/v1/transfers/exports", params={"kind": "provision", "before": "2026-12-31T00:00:00+08:00"}, headers=officer.headers
    )
    assert [e["id"] for e in later.json()] == [ok.headers["x-lendshield-export-id"]]
    earlier = client.get("/v1/transfers/exports", params={"before": "2026-01-01T00:00:00Z"}, headers=officer.headers)
    assert earlier.json() == []
    naive = client.get("/v1/transfers/exports", params={"before": "2026-12-31T00:00:00"}, headers=officer.headers)
    assert naive.status_code == 422, naive.text  # whose midnight? refused, not guessed
    assert "timezone" in naive.json()["detail"]
    assert client.get("/v1/transfers/exports", headers=service.headers).status_code == 403

    clock.set(datetime(2026, 11, 30, 16, 0, tzinfo=UTC))  # 1 December 00:00 in Beijing: the contract ran out
    res = provide(client, service.headers, short, people, purpose="overseas_support")
    assert failures(res) == {"mechanism_expired": 4}
    assert "2026-11-30" in res.json()["detail"]
    assert exports(rt) == 1


def _seed_volume(rt: Runtime, year: int, people: int, sensitive: int) -> None:
    with rt.sessions() as session:
        session.execute(delete(VolumePersonRow))
        session.execute(delete(VolumeRow))
        session.add(VolumeRow(year=year, people=people, sensitive_people=sensitive))
        session.commit()


def _volume(rt: Runtime, year: int) -> tuple[int, int]:
    with rt.sessions() as session:
        row = session.get(VolumeRow, year)
        return (row.people, row.sensitive_people) if row else (0, 0)


def test_yearly_volume_thresholds_over_http(client: TestClient, make_actor: Any, rt: Runtime, clock: FrozenClock) -> None:
    officer, service = make_actor("protection_officer"), make_actor("customer_service")
    exempt = make_recipient(client, officer.headers, **{**ABROAD, "mechanism": "exemption"})
    standard = make_recipient(client, officer.headers, **ABROAD)
    assessed = make_recipient(client, officer.headers, **{**ABROAD, "mechanism": "security_assessment"})
    p = borrowers(rt, 30, 4, OVERSEAS)

    def go(recipient: str, who: str) -> Any:
        return provide(client, service.headers, recipient, [who], purpose="overseas_support")

    _seed_volume(rt, 2026, 99_998, 0)
    asked = client.post(
        "/v1/transfers/provisions/check",
        json={"recipient_id": exempt, "purpose": "overseas_support", "subject_ids": p[:2], "fields": ["name", "mobile"]},
        headers=service.headers,
    ).json()
    assert asked["allowed"] is False
    assert asked["people_after"] == 100_000
    assert asked["tier"] == "standard"
    assert [f["condition"] for f in asked["failures"]] == ["volume_threshold"]
    assert go(exempt, p[0]).status_code == 201  # 99,999 people: exempt
    assert _volume(rt, 2026) == (99_999, 0)
    res = go(exempt, p[1])  # would be 100,000: a standard contract or certification is needed
    assert failures(res) == {"volume_threshold": 1}
    assert "100000 people" in res.json()["detail"]
    assert _volume(rt, 2026) == (99_999, 0)  # nothing counted for a blocked provision
    assert go(standard, p[1]).status_code == 201  # all recipients abroad count together
    assert _volume(rt, 2026) == (100_000, 0)
    assert go(standard, p[1]).status_code == 201  # the same person again this year is not counted twice
    assert _volume(rt, 2026) == (100_000, 0)

    _seed_volume(rt, 2026, 999_998, 0)
    assert go(standard, p[2]).status_code == 201  # 999,999: still a standard contract
    res = go(standard, p[3])  # 1,000,000: a CAC security assessment
    assert failures(res) == {"volume_threshold": 1}
    assert "security assessment" in res.json()["detail"]
    assert go(assessed, p[3]).status_code == 201
    assert _volume(rt, 2026) == (1_000_000, 0)

    clock.set(datetime(2026, 12, 31, 16, 0, tzinfo=UTC))  # 1 January 2027 in Beijing: counting starts again
    assert go(exempt, p[0]).status_code == 201
    assert _volume(rt, 2027) == (1, 0)


def test_sensitive_data_is_counted_on_its_own(client: TestClient, make_actor: Any, rt: Runtime) -> None:
    officer = make_actor("protection_officer")
    # Regulatory reporting rests on a legal duty (PIPL Art. 13(3)): no consent, but the volume still counts.
    group = make_recipient(
        client,
        officer.headers,
        **{
            **ABROAD,
            "name": "Group Compliance (HK) Ltd.",
            "region": "HK",
            "purposes": ["regulatory_reporting"],
            "categories": ["identity", "identity_number", "financial_account", "financial"],
        },
    )
    p = borrowers(rt, 40, 2, [])

    def go(who: str) -> Any:
        return provide(client, officer.headers, group, [who], purpose="regulatory_reporting", fields=["name", "resident_id"])

    _seed_volume(rt, 2026, 0, 9_998)
    assert go(p[0]).status_code == 201  # sensitive data of 9,999 people: a standard contract suffices
    assert _volume(rt, 2026) == (1, 9_999)
    res = go(p[1])  # 10,000 people's sensitive data: a security assessment
    assert failures(res) == {"volume_threshold": 1}
    assert "10000 with sensitive data" in res.json()["detail"]
    assert _volume(rt, 2026) == (1, 9_999)


def test_concurrent_provisions_cannot_both_slip_under_a_threshold(client: TestClient, make_actor: Any, rt: Runtime) -> None:
    """The year's row is locked while a provision counts (FOR UPDATE on PostgreSQL, the write lock on SQLite)."""
    import threading

    from lendshield.transfers import service
    from lendshield.transfers.errors import ProvisionBlocked

    officer, staff = make_actor("protection_officer"), make_actor("customer_service")
    exempt = make_recipient(client, officer.headers, **{**ABROAD, "mechanism": "exemption"})
    p = borrowers(rt, 50, 2, OVERSEAS)
    _seed_volume(rt, 2026, 99_998, 0)  # room for exactly one more person without a filing
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def one(sid: str) -> None:
        req = service.ExportRequest(purpose="overseas_support", subject_ids=[sid], fields=["name", "mobile"])
        barrier.wait()
        with rt.sessions() as session:
            try:
                service.provide(session, rt, staff.principal, exempt, req)
                session.commit()
                outcomes.append("sent")
            except ProvisionBlocked as exc:
                session.commit()
                outcomes.append(exc.failures[0].condition)

    threads = [threading.Thread(target=one, args=(sid,)) for sid in p]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["sent", "volume_threshold"]
    assert _volume(rt, 2026) == (99_999, 0)
