"""Without the ``credential_check`` purpose in the policy, no borrower password is set unchecked:
a policy file that lacks it (an operator's edit) makes registration fail closed."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from lendshield.accounts import borrowers
from lendshield.accounts.models import AccountRow
from lendshield.collection.adapter import read_outbox
from lendshield.crypto import LocalKeyFile
from lendshield.errors import ConfigurationError
from lendshield.runtime import Runtime
from lendshield.settings import Settings
from lendshield.subjects import service as subjects


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """The shipped policies with the credential_check purpose and its rule taken out."""
    data = tmp_path / "data"
    data.mkdir()
    LocalKeyFile.create(data / "keys.json")
    policies = tmp_path / "policies"
    shutil.copytree(Settings().policies_dir, policies)
    purposes = yaml.safe_load((policies / "purposes.yaml").read_text(encoding="utf-8"))
    del purposes["purposes"][borrowers.CREDENTIAL_PURPOSE]
    (policies / "purposes.yaml").write_text(yaml.safe_dump(purposes, allow_unicode=True, sort_keys=False), encoding="utf-8")
    policy = yaml.safe_load((policies / "policy.yaml").read_text(encoding="utf-8"))
    policy["rules"] = [r for r in policy["rules"] if borrowers.CREDENTIAL_PURPOSE not in r["purposes"]]
    (policies / "policy.yaml").write_text(yaml.safe_dump(policy, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return Settings(environment="test", data_dir=data, database_url=db_url, policies_dir=policies)


def test_registration_fails_closed_without_the_credential_check_purpose(rt: Runtime, make_actor) -> None:  # type: ignore[no-untyped-def]
    assert borrowers.CREDENTIAL_PURPOSE not in rt.policy.purposes
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
