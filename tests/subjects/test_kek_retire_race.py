"""The KEK-retirement race: a data key wrapped under a KEK that is retired before its row is
written must not be left under the retired KEK (``vault.settle_wrapped``), on SQLite and
PostgreSQL; on PostgreSQL, retire waits for a writer that has inserted but not committed, and
a writer whose INSERT waited for a retirement re-wraps under the current KEK."""

from __future__ import annotations

import shutil
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text

from lendshield.crypto import LocalKeyFile, unwrap_data_key
from lendshield.principals import SYSTEM
from lendshield.runtime import Runtime
from lendshield.subjects import rotation, service, vault
from lendshield.subjects.models import FieldValueRow, SubjectKeyRow, SubjectRow

from .conftest import BORROWER

WAIT = 20.0


def _snapshot(rt: Runtime, tmp_path: Path, name: str) -> LocalKeyFile:
    """The key file as a process that loaded it now would keep seeing it (a stale copy)."""
    copy = tmp_path / f"{name}.json"
    shutil.copy(rt.settings.resolved_key_file(), copy)
    return LocalKeyFile(copy)


def _rotate(rt: Runtime) -> str:
    with rt.sessions() as session:
        version = rotation.start_rotation(session, rt, SYSTEM)
        session.commit()
    while True:
        with rt.sessions() as session:
            n = rotation.rewrap_batch(session, rt, 100)
            session.commit()
        if not n:
            return version


def _retire(rt: Runtime, version: str) -> None:
    with rt.sessions() as session:
        rotation.retire(session, rt, SYSTEM, version)
        session.commit()


def _key_row(rt: Runtime, sid: str) -> tuple[str, bytes]:
    with rt.sessions() as session:
        row = session.get(SubjectKeyRow, sid)
        assert row is not None
        return row.kek_version, bytes(row.wrapped)


def _readable(rt: Runtime, officer, sid: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    rt.dek_cache.clear()
    with rt.sessions() as session:
        view = service.read_fields(session, rt, officer, sid, ["mobile", "name"], purpose="rights_request", reason="race check", clear=True)
        session.commit()
    return {n: f.value for n, f in view.fields.items()}


def _stale_once(real: Callable[..., tuple[str, bytes]], stale_keys: LocalKeyFile) -> Callable[..., tuple[str, bytes]]:
    """``wrap_data_key`` whose first call wraps under the stale key file (the old KEK)."""
    calls: list[int] = []

    def wrap(keys, subject_id: str, dek: bytes) -> tuple[str, bytes]:  # type: ignore[no-untyped-def]
        calls.append(1)
        return real(stale_keys if len(calls) == 1 else keys, subject_id, dek)

    return wrap


def test_a_key_wrapped_under_the_old_kek_whose_row_lands_after_retire_is_rewrapped(  # type: ignore[no-untyped-def]
    rt: Runtime, make_actor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = make_actor("loan_system").principal
    officer = make_actor("protection_officer").principal
    before = _snapshot(rt, tmp_path, "before-rotation")  # a process that wrapped under KEK 1 ...
    assert before.current_kek_version() == "1"
    assert _rotate(rt) == "2"
    _retire(rt, "1")  # ... and wrote its row only after KEK 1 was retired
    assert rt.keys.kek_versions() == ["2"]
    monkeypatch.setattr(vault, "wrap_data_key", _stale_once(vault.wrap_data_key, before))
    with rt.sessions() as session:
        sid, _ = service.create_subject(session, rt, writer, kind="borrower", fields=BORROWER)
        session.commit()
    version, wrapped = _key_row(rt, sid)
    assert version == "2"  # re-wrapped in the same transaction, not left under the retired KEK
    unwrap_data_key(LocalKeyFile(rt.settings.resolved_key_file()), sid, version, wrapped)  # a fresh process reads it
    assert _readable(rt, officer, sid) == {"mobile": "+8613812345678", "name": BORROWER["name"]}


def test_a_rewrap_batch_under_a_kek_retired_meanwhile_is_rewrapped_again(  # type: ignore[no-untyped-def]
    rt: Runtime, make_actor, store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    officer = make_actor("protection_officer").principal
    sid = store(make_actor("loan_system").principal)
    with rt.sessions() as session:
        rotation.start_rotation(session, rt, SYSTEM)  # KEK 2 current; the data key is still under 1
        session.commit()
    under_two = _snapshot(rt, tmp_path, "kek-2-current")  # a re-wrap process that wraps under KEK 2 ...
    with rt.sessions() as session:
        rotation.start_rotation(session, rt, SYSTEM)
        session.commit()
    _retire(rt, "2")  # ... while KEK 3 becomes current and KEK 2 (which nothing used yet) is retired
    assert rt.keys.kek_versions() == ["1", "3"]
    monkeypatch.setattr(rotation, "wrap_data_key", _stale_once(rotation.wrap_data_key, under_two))
    with rt.sessions() as session:
        assert rotation.rewrap_batch(session, rt, 10) == 1
        session.commit()
    assert _key_row(rt, sid)[0] == "3"
    assert _readable(rt, officer, sid)["mobile"] == "+8613812345678"


# -- PostgreSQL: two real connections -----------------------------------------------------------


def _pg_only(rt: Runtime) -> None:
    if rt.engine.dialect.name != "postgresql":
        pytest.skip("concurrent writers: SQLite serialises whole transactions (BEGIN IMMEDIATE)")


def _wait_for_lock(rt: Runtime, statement: str) -> None:
    """Until another backend is waiting for a lock while running ``statement``."""
    deadline = time.monotonic() + WAIT
    with rt.engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND query ILIKE :q"
                ),
                {"q": f"%{statement}%"},
            ).scalar()
            conn.rollback()
            if waiting:
                return
            time.sleep(0.02)
    raise AssertionError(f"no backend waited for a lock running {statement}")


def _thread(target: Callable[[], None], errors: list[BaseException]) -> threading.Thread:
    def run() -> None:
        try:
            target()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _subject(rt: Runtime, sid: str) -> SubjectRow:
    return SubjectRow(id=sid, kind="borrower", status="active", synthetic=True, timezone="Asia/Shanghai", created_at=rt.clock.now())


def test_pg_retire_waits_for_a_writer_that_has_inserted_and_then_refuses(rt: Runtime, store, make_actor) -> None:  # type: ignore[no-untyped-def]
    _pg_only(rt)
    store(make_actor("loan_system").principal)
    sid = str(uuid.uuid4())
    inserted, commit = threading.Event(), threading.Event()
    errors: list[BaseException] = []
    refused: list[rotation.KekRetireRefused] = []

    def writer() -> None:
        with rt.sessions() as session:
            session.add(_subject(rt, sid))
            session.flush()
            vault.new_key(session, rt.keys, sid)  # the INSERT has run, under KEK 1; not committed
            inserted.set()
            assert commit.wait(WAIT)
            session.commit()

    def retirer() -> None:
        with rt.sessions() as session:
            try:
                rotation.retire(session, rt, SYSTEM, "1")
                session.commit()
            except rotation.KekRetireRefused as exc:
                refused.append(exc)

    w = _thread(writer, errors)
    assert inserted.wait(WAIT)
    assert _rotate(rt) == "2"  # the sweep cannot see the uncommitted row
    r = _thread(retirer, errors)
    _wait_for_lock(rt, "LOCK TABLE subject_keys")
    assert r.is_alive()  # retire is waiting for the open writer
    commit.set()
    w.join(WAIT)
    r.join(WAIT)
    assert not errors, errors
    assert [str(e.detail) for e in refused] == ["1 data keys are still wrapped under KEK version 1; re-wrap them first"]
    assert rt.keys.kek_versions() == ["1", "2"]
    version, wrapped = _key_row(rt, sid)
    assert version == "1"
    unwrap_data_key(rt.keys, sid, version, wrapped)
    assert _rotate(rt) == "3"  # the next sweep takes it; then KEK 1 can go
    _retire(rt, "1")
    assert _key_row(rt, sid)[0] == "3"


def test_pg_a_writer_whose_insert_waited_for_retire_rewraps_under_the_current_kek(  # type: ignore[no-untyped-def]
    rt: Runtime, store, make_actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    _pg_only(rt)
    officer = make_actor("protection_officer").principal
    store(make_actor("loan_system").principal)
    sid = str(uuid.uuid4())
    wrapped_event, insert, retired, commit = threading.Event(), threading.Event(), threading.Event(), threading.Event()
    errors: list[BaseException] = []
    real_wrap = vault.wrap_data_key

    def slow_wrap(keys, subject_id: str, dek: bytes) -> tuple[str, bytes]:  # type: ignore[no-untyped-def]
        result = real_wrap(keys, subject_id, dek)
        if subject_id == sid and not wrapped_event.is_set():
            wrapped_event.set()  # wrapped under KEK 1; the row is not written yet
            assert insert.wait(WAIT)
        return result

    monkeypatch.setattr(vault, "wrap_data_key", slow_wrap)

    def writer() -> None:
        with rt.sessions() as session:
            session.add(_subject(rt, sid))
            session.flush()
            cipher = vault.new_key(session, rt.keys, sid)
            session.add(
                FieldValueRow(
                    subject_id=sid,
                    field="mobile",
                    version=1,
                    current=True,
                    ciphertext=cipher.encrypt("mobile", 1, "+8613800138000"),
                    created_at=rt.clock.now(),
                    created_by="test",
                )
            )
            session.commit()

    def retirer() -> None:
        with rt.sessions() as session:
            rotation.retire(session, rt, SYSTEM, "1")  # holds SHARE on subject_keys; KEK 1 removed
            retired.set()
            assert commit.wait(WAIT)
            session.commit()

    w = _thread(writer, errors)
    assert wrapped_event.wait(WAIT)
    assert _rotate(rt) == "2"
    r = _thread(retirer, errors)
    assert retired.wait(WAIT)
    assert rt.keys.kek_versions() == ["2"]
    insert.set()
    _wait_for_lock(rt, "INSERT INTO subject_keys")  # the writer's INSERT waits for retire to commit
    commit.set()
    r.join(WAIT)
    w.join(WAIT)
    assert not errors, errors
    assert _key_row(rt, sid)[0] == "2"  # without the check it would be under the retired KEK 1
    assert _readable(rt, officer, sid) == {"mobile": "+8613800138000"}
