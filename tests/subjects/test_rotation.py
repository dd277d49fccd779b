"""KEK rotation: every field stays readable, the work resumes after an interruption, and an old
KEK is retired only when no data key needs it (service level and through `lendshield keys rotate`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from lendshield.cli import context
from lendshield.cli.main import app
from lendshield.crypto import LocalKeyFile
from lendshield.principals import SYSTEM
from lendshield.runtime import Runtime
from lendshield.settings import Settings
from lendshield.subjects import rotation, service
from lendshield.subjects.models import SubjectKeyRow

from .conftest import BORROWER, count


def _all_clear(rt: Runtime, who, ids: list[str]) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    out = []
    for sid in ids:
        with rt.sessions() as session:
            view = service.read_fields(session, rt, who, sid, purpose="rights_request", reason="rotation check", clear=True)
            session.commit()
        out.append({n: f.value for n, f in view.fields.items()})
    return out


@pytest.fixture
def populated(rt: Runtime, make_actor, store) -> tuple[list[str], object, list[dict[str, str]]]:  # type: ignore[no-untyped-def]
    writer = make_actor("loan_system").principal
    officer = make_actor("protection_officer").principal
    ids = [store(writer, {**BORROWER, "name": f"测试{'甲乙丙丁戊'[i]}"}) for i in range(5)]
    return ids, officer, _all_clear(rt, officer, ids)


def test_rotation_keeps_every_field_readable(rt: Runtime, populated) -> None:  # type: ignore[no-untyped-def]
    ids, officer, before = populated
    with rt.sessions() as session:
        assert rotation.start_rotation(session, rt, SYSTEM) == "2"
        session.commit()
    with rt.sessions() as session:
        assert rotation.keys_needing_rewrap(session, rt) == 5
        assert rotation.rewrap_batch(session, rt, 100) == 5
        session.commit()
    with rt.sessions() as session:
        assert rotation.retire_unused(session, rt, SYSTEM) == ["1"]
        session.commit()
    assert rt.keys.kek_versions() == ["2"]
    assert count(rt, SubjectKeyRow, SubjectKeyRow.kek_version == "2") == 5
    rt.dek_cache.clear()
    assert _all_clear(rt, officer, ids) == before
    # A process that loads the key file afresh reads everything too.
    fresh = LocalKeyFile(rt.settings.resolved_key_file())
    assert fresh.kek_versions() == ["2"]


def test_interrupted_rotation_resumes_and_retires_only_when_unused(rt: Runtime, populated) -> None:  # type: ignore[no-untyped-def]
    ids, officer, before = populated
    with rt.sessions() as session:
        rotation.start_rotation(session, rt, SYSTEM)
        session.commit()
    with rt.sessions() as session:
        assert rotation.rewrap_batch(session, rt, 2) == 2
        session.commit()
    # ... the process dies here. Nothing may be retired while data keys still need KEK 1.
    with rt.sessions() as session:
        assert rotation.retire_unused(session, rt, SYSTEM) == []
        session.commit()
    assert rt.keys.kek_versions() == ["1", "2"]
    assert _all_clear(rt, officer, ids) == before  # a half-rotated vault reads fine
    with rt.sessions() as session:
        assert rotation.keys_needing_rewrap(session, rt) == 3
        assert rotation.rewrap_batch(session, rt, 2) == 2
        assert rotation.rewrap_batch(session, rt, 2) == 1
        assert rotation.rewrap_batch(session, rt, 2) == 0
        assert rotation.retire_unused(session, rt, SYSTEM) == ["1"]
        session.commit()
    rt.dek_cache.clear()
    assert _all_clear(rt, officer, ids) == before


def test_rotation_leaves_a_ledger_trail(rt: Runtime, populated) -> None:  # type: ignore[no-untyped-def]
    from lendshield.ledger.models import LedgerEntryRow

    with rt.sessions() as session:
        rotation.start_rotation(session, rt, SYSTEM)
        rotation.rewrap_batch(session, rt)
        rotation.retire_unused(session, rt, SYSTEM)
        session.commit()
    assert count(rt, LedgerEntryRow, LedgerEntryRow.action == "keys.rotate") == 1
    assert count(rt, LedgerEntryRow, LedgerEntryRow.action == "keys.retire") == 1


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("LENDSHIELD_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("LENDSHIELD_DATABASE_URL", settings.resolved_database_url())
    context.settings.cache_clear()
    context.runtime.cache_clear()
    yield CliRunner()
    if context.runtime.cache_info().currsize:
        context.runtime().engine.dispose()
    context.settings.cache_clear()
    context.runtime.cache_clear()


def test_cli_rotation_keeps_fields_readable(rt: Runtime, populated, cli_env: CliRunner) -> None:  # type: ignore[no-untyped-def]
    ids, officer, before = populated
    result = cli_env.invoke(app, ["keys", "rotate", "--batch", "2"])
    assert result.exit_code == 0, result.output
    assert "New KEK version 2 is current." in result.output
    assert "Re-wrapped 5 data keys; retired KEK versions: 1." in result.output
    assert count(rt, SubjectKeyRow, SubjectKeyRow.kek_version == "2") == 5
    rt.dek_cache.clear()
    assert _all_clear(rt, officer, ids) == before  # the running process picks up the new key file
    assert LocalKeyFile(rt.settings.resolved_key_file()).kek_versions() == ["2"]


def test_cli_resume_finishes_an_interrupted_rotation(rt: Runtime, populated, cli_env: CliRunner) -> None:  # type: ignore[no-untyped-def]
    ids, officer, before = populated
    with rt.sessions() as session:
        rotation.start_rotation(session, rt, SYSTEM)
        session.commit()
    with rt.sessions() as session:
        rotation.rewrap_batch(session, rt, 1)
        session.commit()
    result = cli_env.invoke(app, ["keys", "rotate", "--resume"])
    assert result.exit_code == 0, result.output
    assert "New KEK" not in result.output
    assert "Re-wrapped 4 data keys; retired KEK versions: 1." in result.output
    rt.dek_cache.clear()
    assert _all_clear(rt, officer, ids) == before


def test_subject_created_by_a_stale_process_after_rotation_stays_readable(
    rt: Runtime, populated, cli_env: CliRunner, make_actor, store
) -> None:  # type: ignore[no-untyped-def]
    """The server loaded the key file before the rotation; its next subject must use the new KEK."""
    _ids, officer, _ = populated
    assert cli_env.invoke(app, ["keys", "rotate"]).exit_code == 0
    sid = store(make_actor("loan_system").principal)
    with rt.sessions() as session:
        assert session.get(SubjectKeyRow, sid).kek_version == "2"  # type: ignore[union-attr]
    rt.dek_cache.clear()
    fresh = LocalKeyFile(rt.settings.resolved_key_file())
    rt.keys = fresh
    assert _all_clear(rt, officer, [sid])[0]["mobile"] == "+8613812345678"
