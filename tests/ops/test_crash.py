"""The real server under concurrent audited writes and masked reads, killed with SIGKILL, restarted.

What must hold afterwards: every request that was answered 2xx has its effect and its ledger
entry; nothing is half-written (no subject without its key or its fields, no ledger entry for a
subject that is not there, no gap in the ledger's sequence numbers); `lendshield ledger audit`
passes; and once the restarted server has integrated, every entry is in a signed checkpoint.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from lendshield.db import make_engine, make_sessionmaker
from lendshield.ledger import subject_ref
from lendshield.ledger.models import LedgerCheckpoint, LedgerEntryRow, LedgerHead
from lendshield.ledger.tree import integrate_all
from lendshield.principals import service as principals
from lendshield.runtime import Runtime
from lendshield.settings import Settings
from lendshield.subjects import service as subjects
from lendshield.subjects.models import FieldValueRow, SubjectKeyRow, SubjectRow
from tests.ops.live_server import LiveServer, server_env, start_server

WRITERS = 3
READERS = 3
MIN_ANSWERED = 80  # of each kind before the kill
SEEDED = 10


def fields_for(n: int) -> dict[str, str]:
    return {
        "name": "测试" + "甲乙丙丁"[n % 4],
        "resident_id": "11010519491231002X",
        "mobile": f"139{n % 100_000_000:08d}",
        "address": "广东省深圳市南山区科技园路1号",
        "bank_card": "6222020200112233446",
        "income": str(3000 + n),
        "employer": "合成数据有限公司",
        "device_imei": "490154203237518",
    }


@dataclass
class Load:
    """What the clients saw: only answered 2xx requests are promises the server must keep."""

    created: dict[str, int] = field(default_factory=dict)  # subject id -> number of fields sent
    reads: list[tuple[str, int]] = field(default_factory=list)  # (subject id, ledger seq) of 200 answers
    failures: list[str] = field(default_factory=list)  # non-2xx answers (none are expected)
    cut: int = 0  # requests sent and never answered: the kill landed while they were in flight
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)

    def note_cut(self, exc: httpx.TransportError) -> None:
        if not isinstance(exc, httpx.ConnectError):  # refused after the kill is not "in flight"
            with self.lock:
                self.cut += 1


def writer(base: str, token: str, load: Load, offset: int) -> None:
    n = offset
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=10) as client:
        while not load.stop.is_set():
            n += WRITERS
            body = {"kind": "borrower", "fields": fields_for(n)}
            try:
                resp = client.post("/v1/subjects", json=body)
            except httpx.TransportError as exc:
                load.note_cut(exc)  # the server died under this request: no answer, no promise
                return
            with load.lock:
                if resp.status_code == 201:
                    load.created[resp.json()["id"]] = len(body["fields"])
                else:
                    load.failures.append(f"POST /v1/subjects {resp.status_code} {resp.text[:200]}")


def reader(base: str, token: str, load: Load, ids: list[str], offset: int) -> None:
    n = offset
    headers = {"Authorization": f"Bearer {token}", "X-Purpose": "loan_servicing"}
    with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
        while not load.stop.is_set():
            n += 1
            sid = ids[n % len(ids)]
            try:
                resp = client.get(f"/v1/subjects/{sid}")
            except httpx.TransportError as exc:
                load.note_cut(exc)
                return
            with load.lock:
                if resp.status_code == 200 and resp.json()["fields"]:
                    load.reads.append((sid, int(resp.json()["ledger_seq"])))
                else:
                    load.failures.append(f"GET /v1/subjects/{{id}} {resp.status_code} {resp.text[:200]}")


def seed(rt: Runtime) -> tuple[str, list[str]]:
    with rt.sessions() as session:
        who = principals.create_principal(
            session, None, rt.catalog, name=f"crash-{uuid.uuid4().hex[:6]}", kind="service", roles=["loan_system"], now=rt.clock.now()
        )
        token = principals.issue_token(session, None, who.id, label="crash", now=rt.clock.now())
        ids = [subjects.create_subject(session, rt, who, kind="borrower", fields=fields_for(i))[0] for i in range(SEEDED)]
        session.commit()
    return token, ids


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def checkpoint_size(server: LiveServer) -> int:
    resp = httpx.get(server.base_url + "/v1/ledger/checkpoint", timeout=5)
    if resp.status_code != 200:
        return -1
    return int(resp.text.splitlines()[1])  # C2SP signed note: origin, tree size, root hash


@pytest.mark.slow
def test_sigkill_under_load_keeps_every_answered_request(rt: Runtime, settings: Settings, tmp_path: Path) -> None:
    token, seeded = seed(rt)
    url = settings.resolved_database_url()
    env = server_env(settings.data_dir, url, ledger_integrate_interval_s="0.3")
    log = tmp_path / "server.log"

    server = start_server(env, log)
    load = Load()
    threads = [threading.Thread(target=writer, args=(server.base_url, token, load, i)) for i in range(WRITERS)]
    threads += [threading.Thread(target=reader, args=(server.base_url, token, load, seeded, i * 7)) for i in range(READERS)]
    for t in threads:
        t.start()
    try:
        wait_for(lambda: len(load.created) >= MIN_ANSWERED and len(load.reads) >= MIN_ANSWERED, 60, "load to build up")
        time.sleep(0.3)  # land the kill among requests in flight
        server.kill()
    finally:
        load.stop.set()
        server.kill() if server.proc.poll() is None else None
        for t in threads:
            t.join(20)
    assert not load.failures, load.failures[:5]
    assert load.cut >= 1, "the kill did not land among requests in flight"

    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            subject_ids = set(session.scalars(select(SubjectRow.id)))
            keyed = set(session.scalars(select(SubjectKeyRow.subject_id)))
            fields_per_subject = dict(
                session.execute(
                    select(FieldValueRow.subject_id, func.count()).group_by(FieldValueRow.subject_id)  # type: ignore[arg-type]
                ).all()
            )
            entries = dict(session.execute(select(LedgerEntryRow.seq, LedgerEntryRow.subject_ref)).all())  # type: ignore[arg-type]
            create_refs = set(session.scalars(select(LedgerEntryRow.subject_ref).where(LedgerEntryRow.action == "subject.create")))
            read_actions = dict(
                session.execute(select(LedgerEntryRow.seq, LedgerEntryRow.action).where(LedgerEntryRow.action != "subject.create")).all()  # type: ignore[arg-type]
            )
            head = session.get(LedgerHead, 1)
            assert head is not None
            # PostgreSQL sequences with the head row; SQLite takes the last entry plus one.
            next_seq = head.next_seq if engine.dialect.name == "postgresql" else None
    finally:
        engine.dispose()

    # Every answered write has its effect, whole, and its ledger entry.
    for sid, sent in load.created.items():
        assert sid in subject_ids
        assert sid in keyed
        assert fields_per_subject.get(sid) == sent
        assert subject_ref(rt.keys, sid) in create_refs
    # Every answered read has its ledger entry, about the subject that was read.
    for sid, seq in load.reads:
        assert entries.get(seq) == subject_ref(rt.keys, sid)
        assert read_actions[seq] == "subject.read"
    # Nothing half-written, acknowledged or not: every subject has its key and all its fields, and
    # every subject.create entry names a subject that exists (an entry never outlives its effect).
    assert keyed == subject_ids
    assert all(fields_per_subject.get(sid) == len(fields_for(0)) for sid in subject_ids)
    assert create_refs == {subject_ref(rt.keys, sid) for sid in subject_ids}
    # No gap and no hole in the sequence; on PostgreSQL the head names the next number.
    assert sorted(entries) == list(range(len(entries)))
    if next_seq is not None:
        assert next_seq == len(entries)

    # Restart: the server comes back and integrates every entry written before the kill into a
    # signed checkpoint. (It may add entries of its own meanwhile, e.g. the watch's alerts.)
    server = start_server(env, log)
    try:
        wait_for(lambda: checkpoint_size(server) >= len(entries), 30, "every entry to be in a signed checkpoint")
        assert httpx.get(server.base_url + "/readyz", timeout=5).status_code == 200
    finally:
        server.stop()
    integrate_all(rt)  # whatever the restarted server wrote after its last checkpoint
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            total = int(session.scalar(select(func.count()).select_from(LedgerEntryRow)) or 0)
            signed = session.scalar(select(func.max(LedgerCheckpoint.size)))
    finally:
        engine.dispose()
    assert total >= len(entries)
    assert signed == total

    audit = subprocess.run(
        [sys.executable, "-m", "lendshield.cli", "ledger", "audit"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert f"{total} entries" in audit.stdout
    assert "0 findings" in audit.stdout
