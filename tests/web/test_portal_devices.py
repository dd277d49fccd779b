"""The borrower withdraws their consent to the device notice in the portal, in one click: the
locked phone is unlocked at its next check-in and no new phone is enrolled."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from lendshield.clock import FrozenClock
from lendshield.crypto.jws import public_raw, sign_compact
from lendshield.devices import service as devices
from lendshield.devices.errors import DeviceConsentRequired
from lendshield.devices.models import DeviceRow
from lendshield.devices.protocol import ACK_TYP
from lendshield.loans.models import LoanRow
from lendshield.runtime import Runtime
from lendshield.web.app import create_app
from tests.devices.support import IMEI, grant_device_consent, imei
from tests.web.portal_helpers import make_borrower, sign_in


@pytest.fixture
def web(rt: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime=rt), base_url="https://testserver", raise_server_exceptions=False) as c:
        yield c


def _apply_all(rt: Runtime, device_id: str, key: Ed25519PrivateKey, after: int) -> list[str]:
    """The phone's side, reduced: acknowledge every pending command as applied."""
    applied = []
    with rt.sessions() as session:
        for row in devices.pending_commands(session, device_id, after):
            ack = sign_compact(key, f"dev-{device_id}", {"dev": device_id, "seq": row.seq, "result": "applied"}, ACK_TYP)
            devices.acknowledge(session, rt, device_id, ack)
            applied.append(row.command)
        session.commit()
    return applied


def test_withdrawing_in_the_portal_unlocks_the_phone_and_stops_enrolment(
    rt: Runtime,
    clock: FrozenClock,
    make_actor,  # type: ignore[no-untyped-def]
    web: TestClient,
) -> None:
    person = make_borrower(rt, make_actor)
    people = {r: make_actor(r) for r in ("collector", "collection_supervisor", "risk_officer", "device_operator")}
    rules = devices.DeviceRules()
    key = Ed25519PrivateKey.generate()
    with rt.sessions() as session:
        for loan_id in ("L-w", "L-w2"):
            session.add(
                LoanRow(
                    id=loan_id,
                    borrower_id=person.subject_id,
                    principal_amount=Decimal(3000),
                    status="overdue",
                    overdue_days=80,
                    assigned_collector_id=people["collector"].principal.id,
                    synthetic=True,
                    created_at=clock.now(),
                    updated_at=clock.now(),
                )
            )
        session.flush()
        grant_device_consent(session, rt, person.subject_id)
        device_id = devices.enroll(
            session, rt, people["device_operator"].principal, loan_id="L-w", device_public_key=public_raw(key), imei=IMEI
        )
        for final in (False, True):
            devices.remind(session, rt, people["collector"].principal, device_id, message_zh="请还款", final=final, rules=rules)
        session.commit()
    assert _apply_all(rt, device_id, key, 0) == ["remind", "remind"]
    clock.advance(timedelta(days=8))
    with rt.sessions() as session:
        rid = devices.request_command(
            session,
            rt,
            people["collector"].principal,
            device_id,
            command="lock",
            reason_code="overdue_unresponsive",
            reason_text="80 days overdue, no answer",
            rules=rules,
        )
        for role in ("collection_supervisor", "risk_officer"):
            devices.review(session, rt, people[role].principal, rid, approve=True, reason="file checked", rules=rules)
        session.commit()
    assert _apply_all(rt, device_id, key, 2) == ["lock"]

    csrf = sign_in(web, rt, person)
    page = web.get("/portal/consents?lang=en").text
    assert 'value="device_management"' in page
    assert "Financed-device management" in page
    resp = web.post(
        "/portal/consents/withdraw", data={"purpose": "device_management", "kind": "purpose", "csrf": csrf}, follow_redirects=False
    )
    assert resp.status_code == 303

    with rt.sessions() as session:
        devices.deliverable(session, rt, device_id, 3, rules)  # the phone's next check-in
        session.commit()
    assert _apply_all(rt, device_id, key, 3) == ["unlock"]
    with rt.sessions() as session:
        assert session.get(DeviceRow, device_id).state == "active"  # type: ignore[union-attr]
        with pytest.raises(DeviceConsentRequired, match="withdrew their consent"):
            devices.enroll(
                session,
                rt,
                people["device_operator"].principal,
                loan_id="L-w2",
                device_public_key=public_raw(Ed25519PrivateKey.generate()),
                imei=imei(9),
            )
