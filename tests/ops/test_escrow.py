"""M-of-N escrow of the key custodian's identity, end to end through the CLI, and the jobs commands."""

from __future__ import annotations

import itertools
import os
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from lendshield.cli import context
from lendshield.cli.main import app
from lendshield.crypto.backup_keys import decrypt_file, load_identity
from lendshield.ops.escrow import BadShares, combine, split
from lendshield.runtime import Runtime


@pytest.fixture
def cli(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setattr(context, "runtime", lambda: rt)
    return CliRunner()


@settings(max_examples=40, deadline=None)
@given(secret=st.binary(min_size=1, max_size=64), n=st.integers(2, 7), data=st.data())
def test_any_m_of_n_shares_rebuild_the_secret_and_fewer_do_not(secret: bytes, n: int, data: st.DataObject) -> None:
    m = data.draw(st.integers(2, n))
    shares = split(secret, shares=n, threshold=m)
    chosen = data.draw(st.permutations(shares))
    assert combine(chosen[:m]) == secret
    with pytest.raises(BadShares):
        combine(chosen[: m - 1])


def test_shares_of_different_splits_or_altered_shares_are_refused() -> None:
    a = split(b"first secret", shares=3, threshold=2)
    b = split(b"other secret", shares=3, threshold=2)
    with pytest.raises(BadShares):
        combine([a[0], b[1]])
    head, _, body = a[1].rpartition(":")
    altered = head + ":" + ("00" if body[:2] != "00" else "01") + body[2:]
    with pytest.raises(BadShares):
        combine([a[0], altered])


def test_escrow_backup_keys_and_recover_with_three_of_five(rt: Runtime, cli: CliRunner, tmp_path: Path) -> None:
    made = cli.invoke(app, ["backup-key", "escrow", "--out", str(tmp_path / "shares"), "--shares", "5", "--threshold", "3"])
    assert made.exit_code == 0, made.output
    recipient = made.stdout.strip().splitlines()[0]
    assert recipient.startswith("age1")
    share_files = sorted((tmp_path / "shares").glob("share-*.txt"))
    assert len(share_files) == 5
    assert all(f.stat().st_mode & 0o777 == 0o600 for f in share_files)
    assert not list(tmp_path.rglob("escrow.key"))  # the whole identity exists nowhere

    saved = cli.invoke(app, ["backup-key", "backup-keys", "--recipient", recipient, "--out", str(tmp_path / "vault")])
    assert saved.exit_code == 0, saved.output
    key_backup = Path(saved.stdout.strip())

    too_few = cli.invoke(
        app, ["backup-key", "recover", "--out", str(tmp_path / "x.key"), *itertools.chain(*(["--share", str(f)] for f in share_files[:2]))]
    )
    assert too_few.exit_code != 0
    assert not (tmp_path / "x.key").exists()

    chosen = [share_files[0], share_files[2], share_files[4]]
    rebuilt = tmp_path / "rebuilt.key"
    ok = cli.invoke(app, ["backup-key", "recover", "--out", str(rebuilt), *itertools.chain(*(["--share", str(f)] for f in chosen))])
    assert ok.exit_code == 0, ok.output
    assert os.stat(rebuilt).st_mode & 0o777 == 0o600
    decrypt_file(key_backup, tmp_path / "keys.json", load_identity(rebuilt))
    assert (tmp_path / "keys.json").read_bytes() == rt.settings.resolved_key_file().read_bytes()


def test_jobs_list_and_drill_status(rt: Runtime, cli: CliRunner, make_actor) -> None:  # type: ignore[no-untyped-def]
    listed = cli.invoke(app, ["jobs", "list"])
    assert listed.exit_code == 0, listed.output
    for kind in ("ledger.integrate", "ops.backup", "ops.restore_drill", "ops.drill_age", "watch.run"):
        assert kind in listed.output
    make_actor("loan_system")  # the deployment's first ledger entry
    fresh = cli.invoke(app, ["drill-status"])
    assert fresh.exit_code == 0, fresh.output  # never drilled, but new: the first drill is not due yet
    assert "last good drill: never (in service since" in fresh.output
    rt.clock.advance(timedelta(days=rt.settings.drill_max_age_days, seconds=1))  # type: ignore[attr-defined]
    status = cli.invoke(app, ["drill-status"])
    assert status.exit_code == 1  # never drilled, in service for longer than allowed
    assert "OVERDUE" in status.output
