"""`lendshield accounts create-staff` makes an account that can sign in with its TOTP."""

from __future__ import annotations

import os
import subprocess
import sys

import pyotp
import pytest

from lendshield.accounts import service as accounts
from lendshield.runtime import Runtime


def test_create_staff_then_sign_in(rt: Runtime) -> None:
    if rt.engine.dialect.name != "sqlite":
        pytest.skip("a CLI subprocess on the embedded default; the command's effects are tested on both backends elsewhere")
    env = os.environ | {"LENDSHIELD_DATA_DIR": str(rt.settings.data_dir), "LENDSHIELD_DATABASE_URL": rt.settings.resolved_database_url()}
    proc = subprocess.run(
        [sys.executable, "-m", "lendshield.cli", "accounts", "create-staff", "supervisor.chen", "--role", "collection_supervisor"],
        input="Lantern-Orbit-93!\nLantern-Orbit-93!\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    uri = next(line for line in proc.stdout.splitlines() if line.startswith("otpauth://"))
    totp = pyotp.TOTP(uri.split("secret=")[1].split("&")[0])
    with rt.sessions() as session:
        signed = accounts.sign_in(
            session,
            rt,
            kind="staff",
            login="supervisor.chen",
            password="Lantern-Orbit-93!",
            code=totp.at(rt.clock.now()),
            client_addr="127.0.0.1",
        )
        session.commit()
    assert signed.session_token


def test_weak_password_is_a_one_line_error(rt: Runtime) -> None:
    if rt.engine.dialect.name != "sqlite":
        pytest.skip("a CLI subprocess on the embedded default; the command's effects are tested on both backends elsewhere")
    env = os.environ | {"LENDSHIELD_DATA_DIR": str(rt.settings.data_dir), "LENDSHIELD_DATABASE_URL": rt.settings.resolved_database_url()}
    proc = subprocess.run(
        [sys.executable, "-m", "lendshield.cli", "accounts", "create-staff", "weak.user", "--role", "auditor"],
        input="password\npassword\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("error: password refused")
    assert "password\n" not in proc.stderr


def test_an_existing_principal_gets_a_console_account(rt: Runtime, make_actor) -> None:  # type: ignore[no-untyped-def]
    if rt.engine.dialect.name != "sqlite":
        pytest.skip("a CLI subprocess on the embedded default; the command's effects are tested on both backends elsewhere")
    collector = make_actor("collector", name="demo-collector")
    env = os.environ | {"LENDSHIELD_DATA_DIR": str(rt.settings.data_dir), "LENDSHIELD_DATABASE_URL": rt.settings.resolved_database_url()}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "lendshield.cli", "accounts", "create-staff", *args],
            input="Lantern-Orbit-93!\nLantern-Orbit-93!\n",
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    assert "leave out --role" in run("demo-collector", "--existing", "--role", "admin").stderr
    assert "no principal named" in run("nobody", "--existing").stderr
    proc = run("demo-collector", "--existing")
    assert proc.returncode == 0, proc.stderr
    with rt.sessions() as session:
        identity = accounts.sign_in(
            session,
            rt,
            kind="staff",
            login="demo-collector",
            password="Lantern-Orbit-93!",
            code=pyotp.TOTP(
                next(ln for ln in proc.stdout.splitlines() if ln.startswith("otpauth://")).split("secret=")[1].split("&")[0]
            ).at(rt.clock.now()),
            client_addr="127.0.0.1",
        )
        session.commit()
        assert accounts.resolve_session(session, rt, identity.session_token).principal_id == collector.principal.id
