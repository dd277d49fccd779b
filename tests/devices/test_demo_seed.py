"""The demo seed: borrowers whose loan financed a phone consent to the device notice, so their
phone can be enrolled; the others cannot."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from lendshield.consent import service as consent
from lendshield.crypto.jws import public_raw
from lendshield.demo.seed import seed_demo
from lendshield.devices import service as devices
from lendshield.devices.errors import DeviceConsentRequired
from lendshield.loans.models import LoanDeviceRow, LoanRow
from lendshield.runtime import Runtime
from tests.devices.support import IMEI, imei


def current_version(rt: Runtime) -> str:
    from lendshield.devices import notice

    return notice.current_version(rt, devices.DeviceRules())


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_seeded_financed_phones_can_be_enrolled_and_no_other(rt: Runtime, make_actor) -> None:  # type: ignore[no-untyped-def]
    seed_demo(rt, borrowers=12)
    operator = make_actor("device_operator").principal
    with rt.sessions() as session:
        financed = set(session.scalars(select(LoanDeviceRow.loan_id)))
        loans = list(session.scalars(select(LoanRow.id).order_by(LoanRow.id)))
        published = {v: consent.get_notice(session, v).published_at for v in (consent.default_draft(rt).version, current_version(rt))}
        assert len(published) == 2  # the general notice and the device notice, each its own version
    assert financed
    assert set(loans) - financed
    for n, loan_id in enumerate(loans):
        with rt.sessions() as session:
            key = public_raw(Ed25519PrivateKey.generate())
            if loan_id in financed:
                devices.enroll(session, rt, operator, loan_id=loan_id, device_public_key=key, imei=imei(n))
                session.commit()
            else:
                with pytest.raises(DeviceConsentRequired, match="consent is to notice"):
                    devices.enroll(session, rt, operator, loan_id=loan_id, device_public_key=key, imei=IMEI)
