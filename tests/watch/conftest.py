"""Helpers for the watch tests: ledger entries written as the gate writes them, and running the job."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from lendshield import ledger
from lendshield.loans.models import LoanRow
from lendshield.principals import Principal
from lendshield.runtime import Runtime
from lendshield.subjects import service as subjects
from lendshield.watch import engine
from lendshield.watch.models import AlertEntryRow, AlertRow


def write(
    rt: Runtime,
    actor: str,
    subject_ids: Iterable[str | None],
    *,
    action: str = "subject.read",
    decision: str = "mask",
    details: dict[str, Any] | None = None,
) -> list[int]:
    """One ledger entry per subject, in one transaction, at the clock's time (as the gate appends them)."""
    seqs = []
    with rt.sessions() as session:
        for sid in subject_ids:
            seqs.append(
                ledger.append(
                    session,
                    ledger.Entry(
                        time=rt.clock.now(),
                        actor=actor,
                        action=action,
                        object="fields:name",
                        subject_ref=None if sid is None else ledger.subject_ref(rt.keys, sid),
                        purpose="collection",
                        decision=decision,
                        rule_id="test",
                        details=details or {},
                    ),
                )
            )
        session.commit()
    return seqs


def alerts(rt: Runtime, rule: str | None = None) -> list[AlertRow]:
    with rt.sessions() as session:
        query = select(AlertRow).order_by(AlertRow.id)
        if rule is not None:
            query = query.where(AlertRow.rule_id == rule)
        return list(session.scalars(query))


def evidence(rt: Runtime, alert_id: int) -> list[int]:
    with rt.sessions() as session:
        return sorted(session.scalars(select(AlertEntryRow.seq).where(AlertEntryRow.alert_id == alert_id)))


def run(rt: Runtime) -> engine.RunResult:
    return engine.run(rt)


def borrower(rt: Runtime, writer: Principal, *, collector_id: str | None = None, loan_id: str | None = None) -> str:
    """A borrower with an emergency contact and, if ``collector_id``, an overdue loan assigned to them."""
    with rt.sessions() as session:
        sid, _contacts = subjects.create_subject(
            session,
            rt,
            writer,
            kind="borrower",
            fields={"name": "张三", "mobile": "13812345678"},
            contacts=[subjects.NewContact(relation="配偶", fields={"name": "李四", "mobile": "13912345678"})],
        )
        if collector_id is not None:
            session.add(
                LoanRow(
                    id=loan_id or f"L-{sid[:8]}",
                    borrower_id=sid,
                    principal_amount=Decimal(5000),
                    status="overdue",
                    overdue_days=30,
                    assigned_collector_id=collector_id,
                    synthetic=True,
                    created_at=rt.clock.now(),
                    updated_at=rt.clock.now(),
                )
            )
        session.commit()
    return sid


def contacts_of(rt: Runtime, borrower_id: str) -> list[str]:
    with rt.sessions() as session:
        return subjects.contact_ids_of(session, borrower_id)
