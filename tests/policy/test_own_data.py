"""The `own_data` condition: a borrower's portal principal sees their own data (PIPL Art. 45), masked,
and nobody else's; the reserved roles `borrower` and `system` are never given to a token."""

from __future__ import annotations

from datetime import date

import pytest

from lendshield.accounts import service as accounts
from lendshield.accounts.password_policy import PersonalData
from lendshield.policy import Effect
from lendshield.principals import Principal
from lendshield.principals import service as principals
from lendshield.principals.errors import UnknownRole
from lendshield.runtime import Runtime
from lendshield.subjects import service as subjects
from lendshield.subjects.errors import ReadDenied
from tests.policy import gate_support as gs


def _portal_principal(rt: Runtime, sid: str, phone: str) -> Principal:
    with rt.sessions() as session:
        account_id = accounts.create_borrower_account(
            session, rt, None, subject_id=sid, phone_e164=phone, password="Qz!8vLr#t2Wm", person=PersonalData()
        )
        session.commit()
    return Principal(id=account_id, name="portal", kind="borrower", roles=frozenset({"borrower"}))


def test_borrower_reads_own_data_masked_and_not_anothers(rt: Runtime) -> None:
    mine = gs.borrower(rt)
    other = gs.borrower(rt, resident_id=gs.resident_id_born(date(1980, 5, 6)), mobile="13987654321")
    me = _portal_principal(rt, mine, "+8613812345678")
    with rt.sessions() as session:
        view = subjects.read_fields(session, rt, me, mine, ["name", "mobile"], purpose="self_service", reason=None, clear=True)
        session.commit()
    assert {n: f.effect for n, f in view.fields.items()} == {"name": Effect.MASK, "mobile": Effect.MASK}
    assert view.fields["mobile"].value == "138****5678"
    with rt.sessions() as session, pytest.raises(ReadDenied):
        subjects.read_fields(session, rt, me, other, ["name"], purpose="self_service", reason=None)


def test_a_staff_principal_never_meets_own_data(rt: Runtime) -> None:
    sid = gs.borrower(rt)
    fake = Principal(id="not-an-account", name="x", kind="borrower", roles=frozenset({"borrower"}))
    with rt.sessions() as session, pytest.raises(ReadDenied):
        subjects.read_fields(session, rt, fake, sid, ["name"], purpose="self_service", reason=None)


@pytest.mark.parametrize("role", ["system", "borrower"])
def test_reserved_roles_are_never_issued(rt: Runtime, role: str) -> None:
    with rt.sessions() as session, pytest.raises(UnknownRole):
        principals.create_principal(session, None, rt.catalog, name=f"x-{role}", kind="service", roles=[role], now=rt.clock.now())
