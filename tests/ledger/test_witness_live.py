"""`lendshield witness` on an auditor's machine against a real server over HTTP (issue 3, item 7):
it cosigns a checkpoint that extends the last one it saw, the log serves the cosignature, and a
fork is reported loudly and never cosigned."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import httpx

from lendshield.ledger import tree
from lendshield.runtime import Runtime
from tests.ledger.test_api import add
from tests.ops.live_server import server_env, start_server

LENDSHIELD = str(Path(sys.executable).parent / "lendshield")


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LENDSHIELD, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def test_witness_cosigns_over_http_and_refuses_a_fork(rt: Runtime, tmp_path: Path) -> None:
    made = _cli("ledger", "witness-key", "w.json", "--name", "witness.example/auditor", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    verifier = made.stdout.strip().splitlines()[-1]
    add(rt, 5)
    tree.integrate_all(rt)
    env = server_env(
        rt.settings.data_dir, rt.settings.resolved_database_url(), environment="test", ledger_witness_keys=json.dumps([verifier])
    )
    server = start_server(env, tmp_path / "server.log")
    try:
        log_key = httpx.get(f"{server.base_url}/v1/ledger/key").text.strip()
        args = ("witness", "--log", server.base_url, "--log-key", log_key, "--key", "w.json", "--state", "seen.json")
        first = _cli(*args, cwd=tmp_path)
        assert first.returncode == 0, first.stderr
        assert "cosigned size 5" in first.stdout
        served = httpx.get(f"{server.base_url}/v1/ledger/checkpoint").text
        assert "— witness.example/auditor " in served

        add(rt, 3)
        tree.integrate_all(rt)
        second = _cli(*args, cwd=tmp_path)
        assert second.returncode == 0, second.stderr
        assert "cosigned size 8" in second.stdout

        # The witness remembers size 8 with another root: the log it sees now is a fork.
        seen = json.loads((tmp_path / "seen.json").read_text())
        (tmp_path / "seen.json").write_text(json.dumps(seen | {"root": base64.b64encode(bytes(32)).decode()}))
        fork = _cli(*args, cwd=tmp_path)
        assert fork.returncode == 2
        assert "NOT cosigned" in fork.stderr
    finally:
        server.stop()
