"""The demo works under the real gate: seeded borrowers carry consents to the published notice."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from lendshield.cli.setup import initialise
from lendshield.demo.seed import seed_demo
from lendshield.principals import service as principals
from lendshield.settings import Settings
from lendshield.subjects import service
from lendshield.subjects.models import SubjectRow

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_seeded_borrowers_are_readable_for_consented_purposes(tmp_path: Path) -> None:
    rt, _ = initialise(Settings(data_dir=tmp_path, environment="test"))
    seed_demo(rt, borrowers=5)
    with rt.sessions() as session:
        risk = principals.create_principal(session, None, rt.catalog, name="risk", kind="staff", roles=["risk_officer"], now=rt.clock.now())
        session.commit()
    with rt.sessions() as session:
        sid = session.scalars(select(SubjectRow.id).where(SubjectRow.kind == "borrower")).first()
        assert sid is not None
        view = service.read_fields(session, rt, risk, sid, ["name", "income"], purpose="credit_assessment", reason="demo", clear=True)
        session.commit()
    assert set(view.fields) == {"name", "income"}
    assert not view.denied
    rt.engine.dispose()


def test_the_demo_can_be_run_again_and_adds_new_people(tmp_path: Path) -> None:
    from sqlalchemy import func

    from lendshield.loans.models import LoanRow

    rt, _ = initialise(Settings(data_dir=tmp_path, environment="test"))
    try:
        assert seed_demo(rt, borrowers=5) == 5
        assert seed_demo(rt, borrowers=5) == 5  # the same seed used to draw the same loan numbers again
        with rt.sessions() as session:
            assert session.scalar(select(func.count()).select_from(LoanRow)) == 10
            assert session.scalar(select(func.count()).select_from(SubjectRow).where(SubjectRow.kind == "borrower")) == 10
            session.rollback()
    finally:
        rt.engine.dispose()
