"""The phone's IMEI: validated, kept only in the vault (encrypted, blind-indexed), shown masked,
found by lookup, and never in clear in a devices table, the ledger, a log, an error or the file."""

from __future__ import annotations

import logging
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from lendshield.catalog import FieldInvalid
from lendshield.cli.setup import initialise
from lendshield.crypto.jws import b64url, public_raw
from lendshield.devices import service as devices
from lendshield.devices import views
from lendshield.devices.models import DeviceRow
from lendshield.loans.models import LoanDeviceRow, LoanRow
from lendshield.principals import Principal
from lendshield.runtime import Runtime
from lendshield.settings import Settings
from lendshield.subjects import service as subjects
from tests.devices.support import IMEI, LOAN_SYSTEM, grant_device_consent, imei
from tests.subjects.test_no_clear_values import database_bytes, forms

MASKED = "**** " + IMEI[-4:]
OPERATOR = Principal(id="test-operator", name="test-operator", kind="staff", roles=frozenset({"device_operator"}))
RISK = Principal(id="test-risk", name="test-risk", kind="staff", roles=frozenset({"risk_officer"}))


def _borrower(rt: Runtime, loan_id: str = "L-i") -> str:
    """A borrower whose loan financed a phone, consenting to the device notice."""
    with rt.sessions() as session:
        sid, _ = subjects.create_subject(session, rt, LOAN_SYSTEM, kind="borrower", fields={"name": "郑十一"})
        now = rt.clock.now()
        session.add(
            LoanRow(
                id=loan_id,
                borrower_id=sid,
                principal_amount=Decimal(3200),
                status="current",
                overdue_days=0,
                synthetic=True,
                created_at=now,
                updated_at=now,
            )
        )
        session.flush()
        session.add(LoanDeviceRow(loan_id=loan_id, asset_id=f"ASSET-{loan_id}", financed_at=now))
        grant_device_consent(session, rt, sid)
        session.commit()
    return sid


def _enrol(rt: Runtime, value: str, loan_id: str = "L-i") -> str:
    with rt.sessions() as session:
        device_id = devices.enroll(
            session, rt, OPERATOR, loan_id=loan_id, device_public_key=public_raw(Ed25519PrivateKey.generate()), imei=value
        )
        session.commit()
    return device_id


@pytest.fixture
def enrolled(rt: Runtime) -> tuple[str, str]:
    sid = _borrower(rt)
    return sid, _enrol(rt, IMEI)


# --- validation ---


@pytest.mark.parametrize("bad", ["490154203237519", "49015420323751", "4901542032375180", "49015420323751x"])
def test_an_invalid_imei_is_refused_with_its_path_and_nothing_is_stored(rt: Runtime, bad: str) -> None:
    _borrower(rt)
    with pytest.raises(FieldInvalid) as refused:
        _enrol(rt, bad)
    assert refused.value.path == "imei"
    assert bad not in str(refused.value)
    with rt.sessions() as session:
        assert session.scalar(select(func.count()).select_from(DeviceRow)) == 0


def test_an_invalid_imei_over_http_is_problem_json_with_the_field_path(rt: Runtime, client: TestClient, make_actor) -> None:  # type: ignore[no-untyped-def]
    _borrower(rt)
    bad = IMEI[:-1] + "9"
    body = {"loan_id": "L-i", "public_key": b64url(public_raw(Ed25519PrivateKey.generate())), "imei": bad}
    resp = client.post("/v1/devices", json=body, headers=make_actor("device_operator").headers)
    assert resp.status_code == 422
    assert resp.headers["content-type"].startswith("application/problem+json")
    problem = resp.json()
    assert problem["path"] == "imei"
    assert problem["detail"] == "imei: not a valid 15-digit IMEI (Luhn)"
    assert bad not in resp.text


def test_an_imei_is_required_to_enrol(rt: Runtime, client: TestClient, make_actor) -> None:  # type: ignore[no-untyped-def]
    _borrower(rt)
    body = {"loan_id": "L-i", "public_key": b64url(public_raw(Ed25519PrivateKey.generate()))}
    assert client.post("/v1/devices", json=body, headers=make_actor("device_operator").headers).status_code == 422


# --- in the vault, not in the devices tables ---


def test_the_imei_is_the_borrowers_vault_field_and_the_device_keeps_only_its_version(rt: Runtime, enrolled: tuple[str, str]) -> None:
    sid, device_id = enrolled
    with rt.sessions() as session:
        view = subjects.read_fields(
            session, rt, OPERATOR, sid, ["device_imei"], purpose="device_management", reason="check enrolment", clear=True
        )
        device = session.get(DeviceRow, device_id)
        session.commit()
    assert device is not None
    assert view.fields["device_imei"].value == IMEI
    assert device.imei_version == view.fields["device_imei"].version
    row = {c.name: getattr(device, c.key) for c in DeviceRow.__table__.columns}
    assert not any(IMEI in str(v) for v in row.values())


def test_the_enrolment_ledger_entry_carries_the_imei_masked_only(rt: Runtime, enrolled: tuple[str, str]) -> None:
    from lendshield.ledger.models import LedgerEntryRow

    with rt.sessions() as session:
        entries = session.scalars(select(LedgerEntryRow)).all()
    enrol = [e for e in entries if e.action == "device.enroll"]
    assert len(enrol) == 1
    assert enrol[0].details is not None
    assert enrol[0].details["imei"] == MASKED
    assert not any(IMEI in e.body or IMEI in str(e.details) for e in entries)


def test_no_imei_in_the_logs_of_an_enrolment(rt: Runtime, client: TestClient, make_actor, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    _borrower(rt)
    caplog.set_level(logging.DEBUG)
    operator = make_actor("device_operator")
    for value in (IMEI, IMEI[:-1] + "0"):
        body = {"loan_id": "L-i", "public_key": b64url(public_raw(Ed25519PrivateKey.generate())), "imei": value}
        client.post("/v1/devices", json=body, headers=operator.headers)
    assert caplog.records  # requests were logged
    assert IMEI not in caplog.text
    assert IMEI[:-1] + "0" not in caplog.text


# --- shown masked, found by lookup ---


def test_the_device_view_shows_the_imei_masked(rt: Runtime, client: TestClient, make_actor, enrolled: tuple[str, str]) -> None:  # type: ignore[no-untyped-def]
    _, device_id = enrolled
    resp = client.get(f"/v1/devices/{device_id}", headers=make_actor("device_operator").headers | {"X-Purpose": "device_management"})
    assert resp.status_code == 200, resp.text
    got = resp.json()
    assert got["imei"] == MASKED
    assert got["state"] == "active"
    assert IMEI not in resp.text


def test_the_device_view_names_its_purpose(rt: Runtime, client: TestClient, make_actor, enrolled: tuple[str, str]) -> None:  # type: ignore[no-untyped-def]
    _, device_id = enrolled
    assert client.get(f"/v1/devices/{device_id}", headers=make_actor("device_operator").headers).status_code == 400


@pytest.mark.parametrize("role", ["collector", "customer_service", "loan_system", "auditor", "protection_officer", "admin"])
def test_the_device_view_is_refused_to(client: TestClient, make_actor, enrolled: tuple[str, str], role: str) -> None:  # type: ignore[no-untyped-def]
    _, device_id = enrolled
    resp = client.get(f"/v1/devices/{device_id}", headers=make_actor(role).headers | {"X-Purpose": "device_management"})
    assert resp.status_code == 403


def test_an_approver_sees_the_device_but_not_the_imei_the_policy_does_not_give_them(
    client: TestClient,
    make_actor,  # type: ignore[no-untyped-def]
    enrolled: tuple[str, str],
) -> None:
    _, device_id = enrolled
    resp = client.get(f"/v1/devices/{device_id}", headers=make_actor("collection_supervisor").headers | {"X-Purpose": "device_management"})
    assert resp.status_code == 200
    assert resp.json()["imei"] is None  # the gate refused the field, and wrote the refusal down
    assert resp.json()["imei_rule"] != ""


def test_after_withdrawal_the_view_shows_no_imei(rt: Runtime, client: TestClient, make_actor, enrolled: tuple[str, str]) -> None:  # type: ignore[no-untyped-def]
    from tests.devices.support import withdraw_device_consent

    sid, device_id = enrolled
    with rt.sessions() as session:
        withdraw_device_consent(session, rt, sid)
        session.commit()
    resp = client.get(f"/v1/devices/{device_id}", headers=make_actor("device_operator").headers | {"X-Purpose": "device_management"})
    assert resp.status_code == 200
    assert resp.json()["imei"] is None
    assert resp.json()["imei_rule"].startswith("consent-withdrawn")


def test_a_device_is_found_by_its_imei(client: TestClient, make_actor, enrolled: tuple[str, str]) -> None:  # type: ignore[no-untyped-def]
    _, device_id = enrolled
    headers = make_actor("risk_officer").headers | {"X-Purpose": "fraud_prevention"}
    spaced = f"{IMEI[:2]} {IMEI[2:8]} {IMEI[8:14]} {IMEI[14]}"
    for value in (IMEI, spaced):
        resp = client.post("/v1/devices/lookup", json={"imei": value}, headers=headers)
        assert resp.status_code == 200, resp.text
        assert resp.json() == {"device_ids": [device_id]}
    assert client.post("/v1/devices/lookup", json={"imei": imei(77)}, headers=headers).json() == {"device_ids": []}


@pytest.mark.parametrize("role", ["collector", "customer_service", "loan_system", "collection_supervisor", "auditor", "admin"])
def test_the_imei_lookup_is_refused_to(client: TestClient, make_actor, enrolled: tuple[str, str], role: str) -> None:  # type: ignore[no-untyped-def]
    resp = client.post("/v1/devices/lookup", json={"imei": IMEI}, headers=make_actor(role).headers | {"X-Purpose": "fraud_prevention"})
    assert resp.status_code == 403


def test_the_imei_lookup_names_its_purpose(client: TestClient, make_actor, enrolled: tuple[str, str]) -> None:  # type: ignore[no-untyped-def]
    assert client.post("/v1/devices/lookup", json={"imei": IMEI}, headers=make_actor("risk_officer").headers).status_code == 400


def test_a_second_phone_takes_the_field_and_the_first_device_shows_none(rt: Runtime, enrolled: tuple[str, str]) -> None:
    sid, first = enrolled
    with rt.sessions() as session:
        session.add(
            LoanRow(
                id="L-i2",
                borrower_id=sid,
                principal_amount=Decimal(1000),
                status="current",
                overdue_days=0,
                synthetic=True,
                created_at=rt.clock.now(),
                updated_at=rt.clock.now(),
            )
        )
        session.commit()
    second = _enrol(rt, imei(5), loan_id="L-i2")
    with rt.sessions() as session:
        shown = {d: views.device_view(session, rt, OPERATOR, d, purpose="device_management") for d in (first, second)}
        found_new = views.find_by_imei(session, rt, RISK, imei(5), purpose="fraud_prevention")
        found_old = views.find_by_imei(session, rt, RISK, IMEI, purpose="fraud_prevention")
        session.commit()
    assert shown[second].imei == "**** " + imei(5)[-4:]
    assert shown[first].imei is None
    assert shown[first].imei_rule == "imei-of-another-device"
    assert found_new == [second]
    assert found_old == []


# --- the database file ---


def test_no_enrolled_imei_is_in_clear_in_the_database_file(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, environment="test")
    rt, _ = initialise(settings)
    enrolled: list[str] = []
    for n in range(5):
        loan_id = f"L-db-{n}"
        _borrower(rt, loan_id)
        enrolled.append(imei(1000 + n))
        device_id = _enrol(rt, enrolled[-1], loan_id)
        with rt.sessions() as session:
            views.device_view(session, rt, OPERATOR, device_id, purpose="device_management")
            views.find_by_imei(session, rt, RISK, enrolled[-1], purpose="fraud_prevention")
            session.commit()
    with rt.sessions() as session:
        assert session.scalar(select(func.count()).select_from(DeviceRow)) == 5
    db = tmp_path / "lendshield.db"
    for stage in ("live, WAL present", "after checkpoint"):
        raw = database_bytes(db)
        assert b"device.enroll" in raw  # the scan sees clear text where clear text is stored
        leaks: list[Any] = sorted({v for v in enrolled for form in forms(v) if form in raw})
        assert leaks == [], f"{stage}: {len(leaks)} IMEIs found in clear"
        rt.engine.dispose()


def test_a_device_operators_lookup_is_decided_by_the_gate(client: TestClient, make_actor, enrolled: tuple[str, str]) -> None:  # type: ignore[no-untyped-def]
    headers = make_actor("device_operator").headers | {"X-Purpose": "device_management"}
    resp = client.post("/v1/devices/lookup", json={"imei": IMEI}, headers=headers)
    # The operator's IMEI rule holds only for a person with a financed device; a blind-index lookup
    # does not know the person yet, so the gate refuses it (and records the refusal).
    assert resp.status_code == 403
    assert resp.json()["rules"] == ["device-financed-imei"]
