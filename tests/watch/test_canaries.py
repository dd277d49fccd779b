"""Canary subjects: realistic values, no alert for their own creation, an alert for any touch by
any path, and an alert when a scan finds one of their values (R10; PIPL Art. 51)."""

from __future__ import annotations

import json

import phonenumbers
import pytest
from fastapi.testclient import TestClient
from stdnum import luhn
from stdnum.cn import ric

from lendshield import ledger
from lendshield.errors import Forbidden, InvalidInput
from lendshield.principals import Principal
from lendshield.runtime import Runtime
from lendshield.subjects import service as subjects
from lendshield.watch import canaries, ledger_read
from tests.watch.conftest import alerts, evidence, run

PO = Principal(id="po-test", name="po", kind="staff", roles=frozenset({"protection_officer"}))


def _plant(rt: Runtime, count: int = 1) -> list[canaries.Canary]:
    with rt.sessions() as session:
        made = canaries.create_canaries(session, rt, PO, count, label="branch-7")
        session.commit()
    return made


def _values(rt: Runtime, subject_id: str) -> dict[str, str]:
    with rt.sessions() as session:
        view = subjects.read_fields(
            session, rt, PO, subject_id, ["resident_id", "mobile", "bank_card"], purpose="rights_request", reason="test", clear=True
        )
        session.commit()
    return {name: f.value for name, f in view.fields.items()}


def test_canaries_look_real_and_their_creation_raises_nothing(rt: Runtime) -> None:
    made = _plant(rt, 3)
    assert len({c.subject_id for c in made}) == 3
    assert run(rt).alerts_raised == 0
    before = _values(rt, made[0].subject_id)  # this read itself is a touch: checked below
    assert ric.is_valid(before["resident_id"])  # GB 11643 check digit, a real date, a real area
    assert phonenumbers.is_valid_number(phonenumbers.parse(before["mobile"]))
    assert before["mobile"].startswith("+861")
    assert before["bank_card"].startswith("62")
    assert luhn.is_valid(before["bank_card"])
    assert run(rt).alerts_raised == 1  # the protection officer reading a canary is a touch too
    with rt.sessions() as session:
        listed = canaries.list_canaries(session, PO)
    assert [c.label for c in listed] == ["branch-7"] * 3


def test_only_the_protection_officer_plants_canaries(rt: Runtime, make_actor) -> None:  # type: ignore[no-untyped-def]
    for role in ("admin", "customer_service", "auditor", "collector"):
        with rt.sessions() as session, pytest.raises(Forbidden):
            canaries.create_canaries(session, rt, make_actor(role).principal, 1)
    with rt.sessions() as session, pytest.raises(InvalidInput):
        canaries.create_canaries(session, rt, PO, 0)
    with rt.sessions() as session, pytest.raises(InvalidInput):
        canaries.create_canaries(session, rt, PO, 1, label="\x00")


def _touched_by(rt: Runtime, since: int, ref: str) -> set[int]:
    with rt.sessions() as session:
        return {r.seq for r in ledger_read.after(session, since, 10_000) if r.subject_ref == ref}


def test_any_path_that_touches_a_canary_raises_a_high_alert(rt: Runtime, client: TestClient, make_actor) -> None:  # type: ignore[no-untyped-def]
    (canary,) = _plant(rt)
    cid = canary.subject_id
    ref = ledger.subject_ref(rt.keys, cid)
    values = _values(rt, cid)
    with rt.sessions() as session:
        start = ledger_read.head(session)
    risk = make_actor("risk_officer")
    officer = make_actor("protection_officer")
    fraud = {**risk.headers, "X-Purpose": "fraud_prevention"}
    rights = {**officer.headers, "X-Purpose": "rights_request"}
    paths = [
        # an allowed masked read; a read the consent ledger refuses; a read the policy refuses
        lambda: client.get(f"/v1/subjects/{cid}", headers=fraud),
        lambda: client.get(f"/v1/subjects/{cid}", headers={**risk.headers, "X-Purpose": "credit_assessment"}),
        lambda: client.get(f"/v1/subjects/{cid}", headers={**make_actor("admin").headers, "X-Purpose": "loan_servicing"}),
        # clear text with a reason; a blind-index lookup that finds it; tokenise and detokenise
        lambda: client.post(f"/v1/subjects/{cid}/read", json={"clear": True, "reason": "request 42"}, headers=rights),
        lambda: client.post(
            "/v1/subjects/lookup",
            json={"field": "resident_id", "value": values["resident_id"]},
            headers=fraud,
        ),
        lambda: client.post(f"/v1/subjects/{cid}/tokens", json={"field": "mobile"}, headers=fraud),
        # a correction
        lambda: client.put(
            f"/v1/subjects/{cid}/fields/mobile",
            json={"value": "13900001111", "reason": "customer called"},
            headers=make_actor("customer_service").headers,
        ),
    ]
    statuses = [path().status_code for path in paths]
    assert statuses == [200, 403, 403, 200, 200, 201, 200]
    token = client.post(f"/v1/subjects/{cid}/tokens", json={"field": "name"}, headers=fraud)
    detok = client.post("/v1/subjects/detokenize", json={"token": token.json()["token"]}, headers=fraud)
    assert detok.status_code == 200
    touched = _touched_by(rt, start, ref)
    assert len(touched) >= len(paths) + 2
    result = run(rt)
    found = alerts(rt, "canary-touch")
    assert result.alerts_raised == len(found) >= 1
    assert all(a.severity == "high" and a.facts["canaries"] == [cid] for a in found)
    assert {a.actor for a in found} >= {risk.principal.id, officer.principal.id}
    assert touched <= {seq for a in found for seq in evidence(rt, a.id)}


def test_scan_hits_raise_one_alert_per_canary_value_and_source(rt: Runtime) -> None:
    (canary,) = _plant(rt)
    values = _values(rt, canary.subject_id)
    run(rt)  # the read above
    national = values["mobile"].removeprefix("+86")
    card = " ".join(values["bank_card"][i : i + 4] for i in range(0, len(values["bank_card"]), 4))
    hits = [
        ("resident_id", values["resident_id"].lower()),
        ("mobile", national),  # as a scanner may hand it over: normalised here again
        ("mobile", values["mobile"]),  # the same value twice in one file is one alert
        ("bank_card", card),
        ("email", "someone@example.com"),  # kinds a canary has no digest for are ignored
        ("mobile", "13700000000"),  # a valid number that is not a canary's
        ("resident_id", "not an id"),
    ]
    with rt.sessions() as session:
        raised = canaries.report_scan_hits(session, rt, hits, source="/srv/exports/客户名单 2026.csv")
        session.commit()
    assert raised == 3
    found = alerts(rt, "canary-scan-hit")
    assert {a.facts["kind"] for a in found} == {"resident_id", "mobile", "bank_card"}
    for a in found:
        assert a.severity == "high"
        assert a.title == "canary value found by a scan of 客户名单 2026.csv"
        assert a.facts["source"] == "客户名单 2026.csv"  # the file name, not the path
        text = json.dumps([a.title, a.facts, a.window_key], ensure_ascii=False)
        for secret in (values["resident_id"], values["mobile"], national, values["bank_card"], values["bank_card"][-8:]):
            assert secret not in text
    with rt.sessions() as session:
        again = canaries.report_scan_hits(session, rt, hits, source="/srv/exports/客户名单 2026.csv")
        elsewhere = canaries.report_scan_hits(session, rt, hits[:1], source="paste.txt")
        nothing = canaries.report_scan_hits(session, rt, [("mobile", "13700000000")], source="x.log")
        session.commit()
    assert (again, elsewhere, nothing) == (0, 1, 0)
    assert len(alerts(rt, "canary-scan-hit")) == 4
    with rt.sessions() as session:
        raised_entries = [r for r in ledger_read.after(session, -1, 10_000) if r.action == "watch.alert.raise"]
    assert len(raised_entries) >= 4  # every alert is in the ledger


def test_one_alert_per_actor_and_hour_names_every_canary_touched(rt: Runtime, make_actor, clock) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from tests.watch.conftest import write

    first, second = _plant(rt, 2)
    snoop = make_actor("customer_service").principal
    write(rt, snoop.id, [first.subject_id])
    assert run(rt).alerts_raised == 1
    clock.advance(timedelta(minutes=20))
    write(rt, snoop.id, [second.subject_id], action="subject.lookup", decision="match")
    assert run(rt).alerts_raised == 0  # the same hour: the alert grows
    (alert,) = alerts(rt, "canary-touch")
    assert alert.facts["canaries"] == sorted([first.subject_id, second.subject_id])
    assert alert.facts["actions"] == ["subject.lookup", "subject.read"]
    assert (alert.measure, alert.trigger_count) == (2, 2)
    clock.advance(timedelta(hours=1))
    write(rt, snoop.id, [first.subject_id])
    assert run(rt).alerts_raised == 1  # the next hour: a new alert


def test_a_canary_never_takes_a_value_a_real_person_has(rt: Runtime) -> None:
    import random

    from tests.policy.gate_support import LOADER

    seed = 7_2026
    with rt.sessions() as session:  # what the seeded generator draws into an empty vault, then undone
        (first,) = canaries.create_canaries(session, rt, PO, 1, rng=random.Random(seed))
        view = subjects.read_fields(
            session, rt, PO, first.subject_id, ["resident_id", "mobile", "bank_card"], purpose="rights_request", reason="test", clear=True
        )
        would = {name: f.value for name, f in view.fields.items()}
        session.rollback()
    with rt.sessions() as session:
        real, _ = subjects.create_subject(
            session, rt, LOADER, kind="borrower", fields={"name": "赵六", "resident_id": would["resident_id"], "mobile": would["mobile"]}
        )
        session.commit()

    with rt.sessions() as session:
        (canary,) = canaries.create_canaries(session, rt, PO, 1, rng=random.Random(seed))
        session.commit()
    got = _values(rt, canary.subject_id)
    assert got["resident_id"] != would["resident_id"]
    assert got["mobile"] != would["mobile"]
    for field in ("resident_id", "mobile"):
        with rt.sessions() as session:
            assert subjects.find_by(session, rt, PO, field, got[field], purpose="rights_request") == [canary.subject_id]
            assert subjects.find_by(session, rt, PO, field, would[field], purpose="rights_request") == [real]
