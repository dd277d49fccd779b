"""Without the ``credential_check`` purpose in the policy, no borrower password is set unchecked."""

from __future__ import annotations

import re

import pytest

from lendshield.accounts import borrowers
from lendshield.accounts.models import AccountRow
from lendshield.collection.adapter import read_outbox
from lendshield.errors import ConfigurationError
from lendshield.runtime import Runtime
from lendshield.subjects import service as subjects


def test_registration_fails_closed_without_the_credential_check_purpose(rt: Runtime, make_actor) -> None:  # type: ignore[no-untyped-def]
    if borrowers.CREDENTIAL_PURPOSE in rt.policy.purposes:
        pytest.skip("the shipped policy now has the purpose; the other tests cover it")
    writer = make_actor("loan_system")
    with rt.sessions() as session:
        sid, _ = subjects.create_subject(session, rt, writer.principal, kind="borrower", fields={"name": "王芳", "mobile": "13912345678"})
        challenge = borrowers.begin_registration(session, rt, phone="13912345678", client_addr="10.9.0.1")
        session.commit()
        match = re.search(r"\b(\d{6})\b", read_outbox(session, rt, sid)[-1].text)
        assert match
        with pytest.raises(ConfigurationError):
            borrowers.finish_registration(
                session, rt, challenge=challenge.token, code=match.group(1), password="River-Stone-71?", client_addr="10.9.0.1"
            )
        session.rollback()
        assert session.query(AccountRow).count() == 0
