"""A real LendShield server in a subprocess (uvicorn), for tests whose behaviour is HTTP's or a process's."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(data_dir: Path, database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a server process: only its own LENDSHIELD_ settings, none of the caller's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LENDSHIELD_")}
    env |= {
        "LENDSHIELD_DATA_DIR": str(data_dir),
        "LENDSHIELD_DATABASE_URL": database_url,
        "LENDSHIELD_LOG_LEVEL": "WARNING",
    }
    env |= {f"LENDSHIELD_{k.upper()}": v for k, v in extra.items()}
    return env


@dataclass
class LiveServer:
    proc: subprocess.Popen[bytes]
    base_url: str

    def kill(self) -> None:
        """SIGKILL: no shutdown handler, no flush, no rollback runs in the server."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


def start_server(env: Mapping[str, str], log: Path, *, port: int | None = None, ready_timeout: float = 30.0) -> LiveServer:
    """Start ``uvicorn --factory lendshield.web.app:app_from_env`` and wait until /readyz answers 200.

    The server's output goes to ``log`` (a pipe nobody reads would block it under load).
    """
    port = port or free_port()
    out = log.open("ab")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "lendshield.web.app:app_from_env",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=dict(env),
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    out.close()
    server = LiveServer(proc, f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {log.read_text(errors='replace')[-2000:]}")
        try:
            if httpx.get(server.base_url + "/readyz", timeout=1.0).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    server.kill()
    raise RuntimeError("server did not become ready")
