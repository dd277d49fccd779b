"""A borrower with an overdue loan assigned to a collector, and two linked contacts."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from lendshield.loans.service import LoanEvent
from lendshield.runtime import Runtime
from lendshield.subjects import service as subjects
from tests.conftest import Actor
from tests.policy import gate_support as gs


@dataclass
class Case:
    borrower: str
    spouse: str
    guarantor: str
    loan: str
    collector: Actor


@pytest.fixture
def case(rt: Runtime, make_actor) -> Case:  # type: ignore[no-untyped-def]
    collector = make_actor("collector")
    with rt.sessions() as session:
        sid, (spouse, guarantor) = subjects.create_subject(
            session,
            rt,
            gs.LOADER,
            kind="borrower",
            fields={"name": "王五", "mobile": "13812345678", "resident_id": "11010519491231002X"},
            contacts=[
                subjects.NewContact(relation="配偶", fields={"name": "李四", "mobile": "13987654321"}),
                subjects.NewContact(relation="担保人", fields={"name": "赵六", "mobile": "13700001111"}),
            ],
            synthetic=True,
        )
        session.commit()
    gs.loan(
        rt,
        sid,
        "L-1",
        ("e1", LoanEvent(kind="overdue", overdue_days=35)),
        ("e2", LoanEvent(kind="assign", collector_id=collector.principal.id)),
    )
    return Case(sid, spouse, guarantor, "L-1", collector)
