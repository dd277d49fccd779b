"""A writer killed with SIGKILL mid-way leaves no half-written subject and no gap in the ledger."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from sqlalchemy import func, select

from lendshield.db import make_engine, make_sessionmaker
from lendshield.ledger.models import LedgerEntryRow, LedgerHead
from lendshield.settings import Settings
from lendshield.subjects.models import BlindIndexRow, FieldValueRow, SubjectKeyRow, SubjectLinkRow, SubjectRow

WRITER = textwrap.dedent(
    """
    import sys
    from lendshield.principals import service as principals
    from lendshield.runtime import build_runtime
    from lendshield.settings import Settings
    from lendshield.subjects import service

    rt = build_runtime(Settings(data_dir=sys.argv[1], database_url=sys.argv[2], environment="test"))
    with rt.sessions() as session:
        who = principals.create_principal(
            session, None, rt.catalog, name="crash-writer", kind="service", roles=["loan_system"], now=rt.clock.now()
        )
        session.commit()
    fields = {"name": "张三", "resident_id": "11010519491231002X", "mobile": "13812345678", "bank_card": "6222020200112233446",
              "address": "北京市朝阳区建国路88号", "income": "9000", "employer": "合成数据有限公司", "device_imei": "490154203237518"}
    contact = service.NewContact(relation="配偶", fields={"name": "李四", "mobile": "13900001111"})
    n = 0
    while True:
        with rt.sessions() as session:
            service.create_subject(session, rt, who, kind="borrower", fields=fields, contacts=[contact])
            session.commit()
        n += 1
        print(n, flush=True)
    """
)


@pytest.mark.slow
def test_sigkill_mid_write_leaves_whole_subjects_only(settings: Settings) -> None:
    url = settings.resolved_database_url()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LENDSHIELD_")}
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(settings.data_dir), url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    acknowledged = 0
    deadline = time.monotonic() + 90
    assert proc.stdout is not None
    while acknowledged < 25 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        acknowledged = int(line)
    time.sleep(0.05)  # land the kill inside a later transaction
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert acknowledged >= 25, proc.stderr.read() if proc.stderr else ""

    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            borrowers = list(session.scalars(select(SubjectRow.id).where(SubjectRow.kind == "borrower")))
            contacts = list(session.scalars(select(SubjectRow.id).where(SubjectRow.kind == "contact")))
            # Nothing acknowledged is lost.
            assert len(borrowers) >= acknowledged
            assert len(contacts) == len(borrowers)
            keyed = set(session.scalars(select(SubjectKeyRow.subject_id)))
            assert keyed == set(borrowers) | set(contacts)
            per_subject = dict(
                session.execute(select(FieldValueRow.subject_id, func.count()).group_by(FieldValueRow.subject_id)).all()  # type: ignore[arg-type]
            )
            assert all(per_subject.get(b) == 8 for b in borrowers)
            assert all(per_subject.get(c) == 2 for c in contacts)
            indexed = dict(session.execute(select(BlindIndexRow.subject_id, func.count()).group_by(BlindIndexRow.subject_id)).all())  # type: ignore[arg-type]
            assert all(indexed.get(b) == 3 for b in borrowers)
            assert session.scalar(select(func.count()).select_from(SubjectLinkRow)) == len(borrowers)
            seqs = list(session.scalars(select(LedgerEntryRow.seq).order_by(LedgerEntryRow.seq)))
            assert seqs == list(range(len(seqs)))
            if engine.dialect.name == "postgresql":  # SQLite sequences from the last entry, not the head row
                assert session.get(LedgerHead, 1).next_seq == len(seqs)  # type: ignore[union-attr]
            creates = session.scalar(select(func.count()).select_from(LedgerEntryRow).where(LedgerEntryRow.action == "subject.create"))
            assert creates == len(borrowers) + len(contacts)
            session.rollback()
        if engine.dialect.name == "sqlite":
            with engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
                conn.rollback()
    finally:
        engine.dispose()
