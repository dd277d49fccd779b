"""KEK rotation and retirement: rotation makes a new KEK current and re-wraps every data key
(resumable) but keeps the old KEK; retirement is its own later step that re-wraps what is left,
refuses the current KEK and any version a data key still needs, and leaves every field readable
(service level and through `lendshield keys rotate` / `lendshield keys retire`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from lendshield.cli import context
from lendshield.cli.main import app
from lendshield.crypto import FieldCipher, LocalKeyFile, new_data_key, wrap_data_key
from lendshield.principals import SYSTEM
from lendshield.runtime import Runtime
from lendshield.settings import Settings
from lendshield.subjects import rotation, service
from lendshield.subjects.models import FieldValueRow, SubjectKeyRow, SubjectRow

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


def _sweep(rt: Runtime) -> int:
    done = 0
    while True:
        with rt.sessions() as session:
            n = rotation.rewrap_batch(session, rt, 2)
            session.commit()
        if n == 0:
            return done
        done += n


def test_rotation_keeps_every_field_readable_and_the_old_kek(rt: Runtime, populated) -> None:  # type: ignore[no-untyped-def]
    ids, officer, before = populated
    with rt.sessions() as session:
        assert rotation.start_rotation(session, rt, SYSTEM) == "2"
        session.commit()
    with rt.sessions() as session:
        assert rotation.keys_needing_rewrap(session, rt) == 5
        assert rotation.rewrap_batch(session, rt, 100) == 5
        session.commit()
    assert rt.keys.kek_versions() == ["1", "2"]  # rotation retires nothing
    assert count(rt, SubjectKeyRow, SubjectKeyRow.kek_version == "2") == 5
    rt.dek_cache.clear()
    assert _all_clear(rt, officer, ids) == before
    with rt.sessions() as session:
        rotation.retire(session, rt, SYSTEM, "1")
        session.commit()
    assert rt.keys.kek_versions() == ["2"]
    rt.dek_cache.clear()
    assert _all_clear(rt, officer, ids) == before
    # A process that loads the key file afresh reads everything too.
    fresh = LocalKeyFile(rt.settings.resolved_key_file())
    assert fresh.kek_versions() == ["2"]


def test_retire_refuses_while_a_data_key_needs_the_version(rt: Runtime, populated) -> None:  # type: ignore[no-untyped-def]
    ids, officer, before = populated
    with rt.sessions() as session:
        rotation.start_rotation(session, rt, SYSTEM)
        session.commit()
    with rt.sessions() as session:
        assert rotation.rewrap_batch(session, rt, 2) == 2
        session.commit()
    # ... the process dies here. KEK 1 may not go while three data keys still need it.
    with rt.sessions() as session, pytest.raises(rotation.KekRetireRefused, match="3 data keys are still wrapped under KEK version 1"):
        rotation.retire(session, rt, SYSTEM, "1")
    assert rt.keys.kek_versions() == ["1", "2"]
    assert _all_clear(rt, officer, ids) == before  # a half-rotated vault reads fine
    assert _sweep(rt) == 3
    with rt.sessions() as session:
        rotation.retire(session, rt, SYSTEM, "1")
        session.commit()
    rt.dek_cache.clear()
    assert _all_clear(rt, officer, ids) == before


def test_retire_refuses_the_current_and_unknown_versions(rt: Runtime, populated) -> None:  # type: ignore[no-untyped-def]
    with rt.sessions() as session, pytest.raises(rotation.KekRetireRefused, match="KEK version 1 is the current one"):
        rotation.retire(session, rt, SYSTEM, "1")
    with rt.sessions() as session, pytest.raises(rotation.KekRetireRefused, match="not in the key store"):
        rotation.retire(session, rt, SYSTEM, "7")
    assert rt.keys.kek_versions() == ["1"]


def test_rotation_and_retirement_leave_a_ledger_trail(rt: Runtime, populated) -> None:  # type: ignore[no-untyped-def]
    from lendshield.ledger.models import LedgerEntryRow

    with rt.sessions() as session:
        rotation.start_rotation(session, rt, SYSTEM)
        rotation.rewrap_batch(session, rt)
        session.commit()
    assert count(rt, LedgerEntryRow, LedgerEntryRow.action == "keys.rotate") == 1
    assert count(rt, LedgerEntryRow, LedgerEntryRow.action == "keys.retire") == 0
    with rt.sessions() as session:
        rotation.retire(session, rt, SYSTEM, "1")
        session.commit()
    assert count(rt, LedgerEntryRow, LedgerEntryRow.action == "keys.retire") == 1


def _late_subject(rt: Runtime, sid: str, dek: bytes, version: str, wrapped: bytes) -> None:
    """A subject whose data key was wrapped before the rotation and committed after it (the race)."""
    with rt.sessions() as session:
        session.add(
            SubjectRow(id=sid, kind="borrower", status="active", synthetic=True, timezone="Asia/Shanghai", created_at=rt.clock.now())
        )
        session.flush()
        session.add(SubjectKeyRow(subject_id=sid, kek_version=version, wrapped=wrapped))
        session.add(
            FieldValueRow(
                subject_id=sid,
                field="mobile",
                version=1,
                current=True,
                ciphertext=FieldCipher(sid, dek).encrypt("mobile", 1, "+8613800138000"),
                created_at=rt.clock.now(),
                created_by="test",
            )
        )
        session.commit()


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


def _main(args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Run the real entry point (its one error edge), as `lendshield ...` would."""
    from lendshield.cli.main import main

    monkeypatch.setattr("sys.argv", ["lendshield", *args])
    with pytest.raises(SystemExit) as stopped:
        main()
    out = capsys.readouterr()
    return int(stopped.value.code or 0), out.out + out.err


def test_cli_rotation_keeps_the_old_kek_and_fields_readable(rt: Runtime, populated, cli_env: CliRunner) -> None:  # type: ignore[no-untyped-def]
    ids, officer, before = populated
    result = cli_env.invoke(app, ["keys", "rotate", "--batch", "2"])
    assert result.exit_code == 0, result.output
    assert "New KEK version 2 is current." in result.output
    assert "Re-wrapped 5 data keys under KEK version 2." in result.output
    assert "Older KEK versions kept: 1. Retire each later: `lendshield keys retire 1`." in result.output
    assert count(rt, SubjectKeyRow, SubjectKeyRow.kek_version == "2") == 5
    assert LocalKeyFile(rt.settings.resolved_key_file()).kek_versions() == ["1", "2"]
    rt.dek_cache.clear()
    assert _all_clear(rt, officer, ids) == before  # the running process picks up the new key file
    status = cli_env.invoke(app, ["keys", "status"])
    assert status.output.splitlines() == ["1\t0 data keys", "2\t5 data keys\tcurrent"]


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
    assert "Re-wrapped 4 data keys under KEK version 2." in result.output
    assert rt.keys.kek_versions() == ["1", "2"]
    rt.dek_cache.clear()
    assert _all_clear(rt, officer, ids) == before


def test_a_key_wrapped_under_the_old_kek_after_rotation_is_swept_by_retire(  # type: ignore[no-untyped-def]
    rt: Runtime, populated, cli_env: CliRunner
) -> None:
    """The race: a process wrapped a data key under KEK 1 just before the rotation and committed after it."""
    ids, officer, before = populated
    late = str(uuid.uuid4())
    dek = new_data_key()
    version, wrapped = wrap_data_key(rt.keys, late, dek)
    assert version == "1"
    assert cli_env.invoke(app, ["keys", "rotate"]).exit_code == 0
    _late_subject(rt, late, dek, version, wrapped)  # committed after the rotation's sweep
    assert count(rt, SubjectKeyRow, SubjectKeyRow.kek_version == "1") == 1
    assert wrap_data_key(rt.keys, late, dek)[0] == "2"  # from now on the running process wraps under KEK 2

    result = cli_env.invoke(app, ["keys", "retire", "1"])
    assert result.exit_code == 0, result.output
    assert "Re-wrapped 1 data keys; retired KEK version 1." in result.output
    assert count(rt, SubjectKeyRow, SubjectKeyRow.kek_version == "1") == 0
    fresh = LocalKeyFile(rt.settings.resolved_key_file())
    assert fresh.kek_versions() == ["2"]
    rt.keys = fresh
    rt.dek_cache.clear()
    assert _all_clear(rt, officer, ids) == before
    assert _all_clear(rt, officer, [late]) == [{"mobile": "+8613800138000"}]


def test_cli_retire_refusals_are_one_line_and_non_zero(  # type: ignore[no-untyped-def]
    rt: Runtime, populated, cli_env: CliRunner, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _main(["keys", "retire", "1"], monkeypatch, capsys)
    assert (code, out) == (2, "error: KEK version 1 is the current one; rotate to a new KEK before retiring it\n")
    code, out = _main(["keys", "retire", "9"], monkeypatch, capsys)
    assert (code, out) == (2, "error: KEK version 9 is not in the key store (unknown or already retired)\n")
    code, out = _main(["keys", "retire", "1;x"], monkeypatch, capsys)
    assert code == 2
    assert out.count("\n") == 1
    assert rt.keys.kek_versions() == ["1"]


def test_cli_retire_when_clean_succeeds_and_every_field_reads(rt: Runtime, populated, cli_env: CliRunner) -> None:  # type: ignore[no-untyped-def]
    ids, officer, before = populated
    assert cli_env.invoke(app, ["keys", "rotate"]).exit_code == 0
    result = cli_env.invoke(app, ["keys", "retire", "1"])
    assert result.exit_code == 0, result.output
    assert "Re-wrapped 0 data keys; retired KEK version 1." in result.output
    assert LocalKeyFile(rt.settings.resolved_key_file()).kek_versions() == ["2"]
    again = cli_env.invoke(app, ["keys", "retire", "1"])
    assert again.exit_code != 0  # already retired
    rt.dek_cache.clear()
    assert _all_clear(rt, officer, ids) == before


def test_subject_created_by_a_stale_process_after_rotation_stays_readable(
    rt: Runtime, populated, cli_env: CliRunner, make_actor, store
) -> None:  # type: ignore[no-untyped-def]
    """The server loaded the key file before the rotation; its next subject must use the new KEK."""
    _ids, officer, _ = populated
    assert cli_env.invoke(app, ["keys", "rotate"]).exit_code == 0
    assert rt.keys.current_kek_version() == "2"  # seen by the running process without a restart
    sid = store(make_actor("loan_system").principal)
    with rt.sessions() as session:
        assert session.get(SubjectKeyRow, sid).kek_version == "2"  # type: ignore[union-attr]
    assert cli_env.invoke(app, ["keys", "retire", "1"]).exit_code == 0
    rt.dek_cache.clear()
    fresh = LocalKeyFile(rt.settings.resolved_key_file())
    rt.keys = fresh
    assert _all_clear(rt, officer, [sid])[0]["mobile"] == "+8613812345678"
