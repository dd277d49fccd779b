"""API load: audited masked reads and writes against a running server, from a second process.

Run with ``make bench`` (or ``.venv/bin/python benchmarks/api.py --seconds 60``). For each backend
it builds a fresh database, seeds subjects, starts the real server (uvicorn, ``--workers N``), and
drives it from a separate load process (asyncio, keep-alive connections, a closed loop of
``--concurrency`` clients) for ``--seconds`` per phase:

- ``reads``: ``GET /v1/subjects/{id}`` with ``X-Purpose: loan_servicing`` by a ``loan_system``
  token: the whole gate (token, purpose, policy, consent), decryption, masking and a ledger entry
  in the same transaction, for every request;
- ``mixed``: the same reads with a share of ``POST /v1/subjects`` (8 fields encrypted under a new
  data key, blind indexes, a ledger entry);
- ``limit``: a bare FastAPI endpoint (the peer) on the same database that issues the SQL of an
  audited read (token row, subject, key and ciphertexts, ledger head update, one log insert) with
  none of LendShield's work: no policy, no consent, no decryption, no masking, no canonical JSON.

The goal (issue 10, on a 2-core machine): at least 1,000 audited masked reads per second with p99
under 50 ms. With ``--record`` the figures are appended to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parent.parent
GOAL_READS_PER_S = 1000.0
GOAL_P99_MS = 50.0
PURPOSE = "loan_servicing"


# --- synthetic data -------------------------------------------------------------------------


def synthetic_fields(i: int) -> dict[str, str]:
    """Valid, synthetic values (check digits computed, never a real person)."""
    from stdnum import luhn
    from stdnum.cn import ric

    body = f"110101{1950 + i % 50:04d}{1 + i % 12:02d}{1 + i % 28:02d}{i % 1000:03d}"
    card = "62" + f"{i % 10**15:015d}"
    imei = "35" + f"{i % 10**12:012d}"
    return {
        "name": "测试" + "甲乙丙丁"[i % 4],
        "resident_id": body + ric.calc_check_digit(body + "0"),  # the helper ignores the last character
        "mobile": f"139{i % 100_000_000:08d}",
        "address": "广东省深圳市南山区科技园路" + str(i % 999 + 1) + "号",
        "bank_card": card + luhn.calc_check_digit(card),
        "income": str(3000 + i % 40000),
        "employer": "合成数据有限公司",
        "device_imei": imei + luhn.calc_check_digit(imei),
    }


# --- the load process -----------------------------------------------------------------------


class Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection, as an asyncio protocol over pre-built request bytes.

    The load generator shares the machine's two cores with the server, so it must cost far less
    than the server per request: no stream reader, no per-request header formatting, responses
    parsed by one search for the blank line and one for Content-Length.
    """

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.waiter is None:
            return
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buffer[:end]).lower()
        at = head.find(b"\r\ncontent-length:")
        if at < 0:
            self.waiter.set_exception(RuntimeError("a response without Content-Length (the benchmark expects none)"))
            self.waiter = None
            return
        stop = head.find(b"\r\n", at + 2)
        length = int(head[at + 17 : stop if stop > 0 else len(head)])
        total = end + 4 + length
        if len(self.buffer) < total:
            return
        body = bytes(self.buffer[end + 4 : total])
        del self.buffer[:total]
        waiter, self.waiter = self.waiter, None
        waiter.set_result((int(head[9:12]), body))
        if b"\r\nconnection: close" in head and self.transport is not None:
            self.transport.close()
            self.transport = None

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("server closed the connection"))
        self.waiter = None


class Client:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.conn: Connection | None = None

    async def request(self, data: bytes) -> tuple[int, bytes]:
        loop = asyncio.get_running_loop()
        if self.conn is None or self.conn.transport is None:
            _, self.conn = await loop.create_connection(Connection, self.host, self.port)
        conn = self.conn
        conn.waiter = loop.create_future()
        assert conn.transport is not None
        conn.transport.write(data)
        return await conn.waiter


def request_bytes(method: str, path: str, host: str, headers: bytes, body: bytes = b"") -> bytes:
    length = f"Content-Length: {len(body)}\r\n".encode() if method != "GET" else b""
    return f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n".encode() + length + headers + b"\r\n" + body


async def drive(spec: dict[str, Any]) -> dict[str, Any]:
    host, port = spec["host"], spec["port"]
    ids: list[str] = spec["ids"]
    auth = f"Authorization: Bearer {spec['token']}\r\n".encode()
    read_path: str = spec["read_path"]
    # Every request is built before the clock starts: the loop only picks one and sends it.
    reads = [request_bytes("GET", read_path.format(id=i), host, auth + f"X-Purpose: {PURPOSE}\r\n".encode()) for i in ids]
    write_share: float = spec["write_share"]
    write_headers = auth + b"Content-Type: application/json\r\n"

    def write_request(k: int, n: int) -> bytes:
        body = json.dumps({"kind": "borrower", "fields": synthetic_fields(10_000_000 + k * 1_000_000 + n)}).encode()
        return request_bytes("POST", "/v1/subjects", host, write_headers, body)

    per_client = int(write_share * 500 * (spec["seconds"] + spec["warmup"]) / spec["concurrency"]) + 1 if write_share else 0
    writes = [[write_request(k, n) for n in range(per_client)] for k in range(spec["concurrency"])]
    latencies: dict[str, list[float]] = {"read": [], "write": []}
    errors: dict[str, int] = {}
    checked = {"masked": 0, "clear": 0}
    sent = [0]
    cpu_start = time.process_time()
    warmup_end = time.perf_counter() + spec["warmup"]
    deadline = warmup_end + spec["seconds"]
    load_start = os.getloadavg()[0]

    async def client(k: int) -> None:
        rng = random.Random(k)
        conn = Client(host, port)
        mine = writes[k]
        n = 0
        while (now := time.perf_counter()) < deadline:
            n += 1
            write = rng.random() < write_share
            if write:
                status, payload = await conn.request(mine.pop() if mine else write_request(k, per_client + n))
            else:
                status, payload = await conn.request(reads[rng.randrange(len(reads))])
            took = time.perf_counter() - now
            sent[0] += 1  # warm-up included: the server's CPU is measured over the whole run
            if now < warmup_end:
                continue
            kind = "write" if write else "read"
            if status >= 300:
                errors[f"{kind} {status}"] = errors.get(f"{kind} {status}", 0) + 1
                continue
            latencies[kind].append(took)
            if kind == "read" and n % 97 == 0 and spec["check_masks"]:
                shown = {f["shown"] for f in json.loads(payload)["fields"].values()}
                checked["masked" if shown == {"mask"} else "clear"] += 1

    await asyncio.gather(*(client(k) for k in range(spec["concurrency"])))
    return {
        "latencies": latencies,
        "errors": errors,
        "seconds": spec["seconds"],
        "checked": checked,
        "requests_incl_warmup": sent[0],
        "client_cpu_s": time.process_time() - cpu_start,
        "loadavg": [load_start, os.getloadavg()[0]],
    }


def load_main(spec_file: str) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # the standard loop works too, only slower
        pass
    spec = json.loads(Path(spec_file).read_text())
    Path(spec["out"]).write_text(json.dumps(asyncio.run(drive(spec))))


# --- the peer: the SQL of an audited read, without LendShield --------------------------------


def peer_app() -> Any:
    """``uvicorn --factory api:peer_app``: the same database round trips as a read, no gate."""
    from fastapi import FastAPI, Header, HTTPException
    from sqlalchemy import text

    from lendshield.crypto import token_digest
    from lendshield.db import make_engine

    # LendShield's own engine set-up (SQLite WAL with BEGIN IMMEDIATE; the PostgreSQL pool).
    engine = make_engine(os.environ["BENCH_PEER_DATABASE_URL"])
    app = FastAPI()
    token_sql = text("SELECT digest, principal_id FROM api_tokens WHERE id = :id")
    principal_sql = text("SELECT roles, active FROM principals WHERE id = :id")
    read_sql = text(
        "SELECT s.kind, k.wrapped, f.field, f.version, f.ciphertext FROM subjects s JOIN subject_keys k ON k.subject_id = s.id"
        " JOIN field_values f ON f.subject_id = s.id AND f.current WHERE s.id = :id"
    )
    head_sql = text("UPDATE ledger_head SET next_seq = next_seq + 1 WHERE id = 1 RETURNING next_seq")
    log_sql = text("INSERT INTO bench_peer_log (seq, subject_id, body) VALUES (:seq, :sid, :body)")

    @app.get("/peer/subjects/{subject_id}")
    def read(subject_id: str, authorization: str = Header()) -> dict[str, Any]:
        token = authorization.partition(" ")[2]
        token_id = token.removeprefix("lsk_").split(".", 1)[0]
        with engine.connect() as conn:  # the token lookup, in its own transaction as in LendShield
            row = conn.execute(token_sql, {"id": token_id}).first()
            if row is None or row.digest != token_digest(token):
                raise HTTPException(401)
            conn.execute(principal_sql, {"id": row.principal_id}).first()
        with engine.begin() as conn:
            rows = conn.execute(read_sql, {"id": subject_id}).all()
            if not rows:
                raise HTTPException(404)
            seq = conn.execute(head_sql).scalar_one()
            conn.execute(log_sql, {"seq": seq, "sid": subject_id, "body": "{}"})
        return {"id": subject_id, "fields": {r.field: {"shown": "mask", "value": len(r.ciphertext)} for r in rows}}

    return app


# --- orchestration --------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    backend: str
    workers: int
    reads_per_s: float
    read_p50_ms: float
    read_p99_ms: float
    writes_per_s: float
    write_p50_ms: float
    write_p99_ms: float
    errors: dict[str, int]
    server_cpu_ms: float  # API processes' CPU per answered request (the database server's not included)
    client_cpu_ms: float  # the load process's CPU per request
    database_cpu_ms: float  # the PostgreSQL server's processes' CPU per request (nan on SQLite: in-process)
    loadavg: tuple[float, float]  # 1-minute load average when the load started and when it ended


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def session_cpu_seconds(sid: int) -> float:
    """User + system CPU of every live process in session ``sid`` (the server and its workers), from /proc."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[3]) == sid:  # after the command name: state, ppid, pgrp, session, ...
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float:
    """User + system CPU of every live process of this machine's PostgreSQL server, from /proc:
    its backends (the API processes' pooled connections live through a phase), the WAL writer,
    the checkpointer."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            head, _, rest = stat.read_text().rpartition(")")
        except OSError:
            continue
        if head.partition("(")[2] == "postgres":
            fields = rest.split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(port: int, path: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}{path}", timeout=1).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError("server did not become ready")


def server_flavour() -> list[str]:
    """uvloop and httptools (both in ``uvicorn[standard]``) where they install; uvicorn's pure-Python defaults elsewhere."""
    import importlib.util

    flags = []
    if importlib.util.find_spec("uvloop") is not None:
        flags += ["--loop", "uvloop"]
    if importlib.util.find_spec("httptools") is not None:
        flags += ["--http", "httptools"]
    return flags


def start(
    app: str, env: dict[str, str], workers: int, *, factory_dir: Path | None = None, profile_to: Path | None = None
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    profiler = ["-m", "cProfile", "-o", str(profile_to)] if profile_to is not None else []
    cmd = [sys.executable, *profiler, "-m", "uvicorn", "--factory", app, "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--workers", str(workers), "--log-level", "warning", "--no-access-log", *server_flavour()]
    if factory_dir is not None:
        cmd += ["--app-dir", str(factory_dir)]
    proc = subprocess.Popen(cmd, env=env, start_new_session=True)
    return proc, port


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    os.killpg(proc.pid, sig)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def run_load(
    port: int, token: str, ids: list[str], args: argparse.Namespace, *, write_share: float, read_path: str, server_sid: int
) -> dict[str, Any]:
    spec = {
        "host": "127.0.0.1",
        "port": port,
        "token": token,
        "ids": ids,
        "seconds": args.seconds,
        "warmup": args.warmup,
        "concurrency": args.concurrency,
        "write_share": write_share,
        "read_path": read_path,
        "check_masks": read_path.startswith("/v1/"),
    }
    cpu_before, db_before = session_cpu_seconds(server_sid), postgres_cpu_seconds()
    with tempfile.TemporaryDirectory() as tmp:
        spec["out"] = str(Path(tmp) / "result.json")  # a file, not stdout: nothing else can interleave with it
        spec_file = Path(tmp) / "spec.json"
        spec_file.write_text(json.dumps(spec))
        subprocess.run([sys.executable, __file__, "--load", str(spec_file)], check=True)
        result: dict[str, Any] = json.loads(Path(spec["out"]).read_text())
    # Includes the warm-up's requests: CPU is counted over the whole run of the load process.
    result["server_cpu_s"] = session_cpu_seconds(server_sid) - cpu_before
    result["database_cpu_s"] = postgres_cpu_seconds() - db_before
    return result


def summarise(name: str, backend: str, workers: int, result: dict[str, Any]) -> Phase:
    reads, writes, seconds = result["latencies"]["read"], result["latencies"]["write"], result["seconds"]
    if result.get("checked", {}).get("clear"):
        raise RuntimeError("a loan_system masked read came back in clear: the benchmark is not measuring the gate")
    return Phase(
        name,
        backend,
        workers,
        len(reads) / seconds,
        percentile(reads, 0.50),
        percentile(reads, 0.99),
        len(writes) / seconds,
        percentile(writes, 0.50),
        percentile(writes, 0.99),
        result["errors"],
        result["server_cpu_s"] * 1000 / max(1.0, result["requests_incl_warmup"]),
        result["client_cpu_s"] * 1000 / max(1.0, result["requests_incl_warmup"]),
        result["database_cpu_s"] * 1000 / max(1.0, result["requests_incl_warmup"]) if backend == "postgresql" else float("nan"),
        (result["loadavg"][0], result["loadavg"][1]),
    )


def prepare(backend: str, data: Path, args: argparse.Namespace) -> tuple[str, str, list[str], Any]:
    """A fresh database with ``--subjects`` borrowers and a loan_system token. Returns (url, token, ids, cleanup)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from lendshield.cli.setup import initialise
    from lendshield.principals import service as principals
    from lendshield.settings import Settings
    from lendshield.subjects import service as subjects

    cleanup: Any = None
    if backend == "sqlite":
        url = f"sqlite:///{data / 'lendshield.db'}"
    else:
        name = f"lendshield_bench_{uuid.uuid4().hex[:10]}"
        admin = create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(args.pg_url).set(database=name).render_as_string(hide_password=False)

        def cleanup() -> None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()

    settings = Settings(data_dir=data, database_url=url, log_level="WARNING")
    rt, _ = initialise(settings)
    with rt.sessions() as session:
        who = principals.create_principal(
            session, None, rt.catalog, name="bench-loan-system", kind="service", roles=["loan_system"], now=rt.clock.now()
        )
        token = principals.issue_token(session, None, who.id, label="bench", now=rt.clock.now())
        session.commit()
    ids: list[str] = []
    for start_at in range(0, args.subjects, 100):
        with rt.sessions() as session:
            for i in range(start_at, min(args.subjects, start_at + 100)):
                ids.append(subjects.create_subject(session, rt, who, kind="borrower", fields=synthetic_fields(i))[0])
            session.commit()
    with rt.engine.begin() as conn:
        conn.execute(text("CREATE TABLE bench_peer_log (seq BIGINT PRIMARY KEY, subject_id VARCHAR(36), body TEXT)"))
    rt.engine.dispose()
    return url, token, ids, cleanup


def profile_server(args: argparse.Namespace) -> None:
    """The masked-read load against one server process under cProfile (the first of ``--backends``):
    where the time goes."""
    import pstats

    backend = args.backends.split(",")[0]
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        url, token, ids, cleanup = prepare(backend, data, args)
        env = {k: v for k, v in os.environ.items() if not k.startswith("LENDSHIELD_")}
        env |= {"LENDSHIELD_DATA_DIR": str(data), "LENDSHIELD_DATABASE_URL": url, "LENDSHIELD_LOG_LEVEL": "WARNING"}
        out = data / "server.prof"
        proc, port = start("lendshield.web.app:app_from_env", env, 1, profile_to=out)
        try:
            wait_ready(port, "/readyz", proc)
            phase = summarise(
                "reads", backend, 1, run_load(port, token, ids, args, write_share=0.0, read_path="/v1/subjects/{id}", server_sid=proc.pid)
            )
        finally:
            stop(proc, signal.SIGINT)
            if cleanup is not None:
                cleanup()
        print(f"{phase.reads_per_s:,.0f} reads/s under the profiler; non-2xx: {phase.errors}")
        pstats.Stats(str(out)).sort_stats("cumulative").print_stats(60)


def bench_backend(backend: str, workers: int, args: argparse.Namespace) -> list[Phase]:
    phases: list[Phase] = []
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        url, token, ids, cleanup = prepare(backend, data, args)
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("LENDSHIELD_")}
        env = base_env | {"LENDSHIELD_DATA_DIR": str(data), "LENDSHIELD_DATABASE_URL": url, "LENDSHIELD_LOG_LEVEL": "WARNING"}
        if args.no_jobs:
            env["LENDSHIELD_JOBS_ENABLED"] = "false"
        if args.hot_read_threads is not None:
            env["LENDSHIELD_HOT_READ_THREADS"] = str(args.hot_read_threads)
        try:
            proc, port = start("lendshield.web.app:app_from_env", env, workers)
            try:
                wait_ready(port, "/readyz", proc)
                print(f"[{backend}, {workers} API process(es)] masked reads for {args.seconds:g} s ...", flush=True)
                reads = run_load(port, token, ids, args, write_share=0.0, read_path="/v1/subjects/{id}", server_sid=proc.pid)
                phases.append(summarise("reads", backend, workers, reads))
                print(
                    f"[{backend}, {workers} API process(es)] reads with {args.write_share:.0%} writes for {args.seconds:g} s ...",
                    flush=True,
                )
                mixed = run_load(port, token, ids, args, write_share=args.write_share, read_path="/v1/subjects/{id}", server_sid=proc.pid)
                phases.append(summarise("mixed", backend, workers, mixed))
            finally:
                stop(proc)
            if not args.no_peer:
                peer_env = base_env | {"BENCH_PEER_DATABASE_URL": url}
                proc, port = start("api:peer_app", peer_env, workers, factory_dir=Path(__file__).resolve().parent)
                try:
                    wait_ready(port, "/docs", proc)
                    print(f"[{backend}, {workers} process(es)] limit: the same SQL without the gate for {args.seconds:g} s ...", flush=True)
                    peer = run_load(port, token, ids, args, write_share=0.0, read_path="/peer/subjects/{id}", server_sid=proc.pid)
                    phases.append(summarise("limit", backend, workers, peer))
                finally:
                    stop(proc)
        finally:
            if cleanup is not None:
                cleanup()
    return phases


def report(phases: list[Phase], args: argparse.Namespace) -> list[str]:
    lines = [
        "| backend | API processes | load | reads/s | read p50 ms | read p99 ms | writes/s | write p50 ms | write p99 ms"
        " | server CPU ms/request | database CPU ms/request | client CPU ms/request | load average | non-2xx |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    labels = {"reads": "audited masked reads", "mixed": f"reads + {args.write_share:.0%} writes", "limit": "limit: same SQL, no gate"}
    for p in phases:
        w = (f"{p.writes_per_s:,.0f}", f"{p.write_p50_ms:.1f}", f"{p.write_p99_ms:.1f}") if p.writes_per_s else ("—", "—", "—")
        errs = ", ".join(f"{k}: {v}" for k, v in sorted(p.errors.items())) or "0"
        reads = f"{p.reads_per_s:,.0f} | {p.read_p50_ms:.1f} | {p.read_p99_ms:.1f}"
        writes = " | ".join(w)
        db = "—" if p.database_cpu_ms != p.database_cpu_ms else f"{p.database_cpu_ms:.2f}"  # nan: in-process SQLite
        cpu = f"{p.server_cpu_ms:.2f} | {db} | {p.client_cpu_ms:.2f} | {p.loadavg[0]:.1f}–{p.loadavg[1]:.1f}"
        lines.append(f"| {p.backend} | {p.workers} | {labels[p.name]} | {reads} | {writes} | {cpu} | {errs} |")
    lines.append("")
    for p in phases:
        if p.name != "reads":
            continue
        met = p.reads_per_s >= GOAL_READS_PER_S and p.read_p99_ms < GOAL_P99_MS
        limit = next((q for q in phases if q.name == "limit" and q.backend == p.backend), None)
        vs_limit = f"; {p.reads_per_s / limit.reads_per_s:.0%} of the limit's {limit.reads_per_s:,.0f}/s" if limit else ""
        lines.append(
            f"- {p.backend}, {p.workers} API process(es): {p.reads_per_s:,.0f} audited masked reads/s = "
            f"{p.reads_per_s / GOAL_READS_PER_S:.2f}x the goal of {GOAL_READS_PER_S:,.0f}/s; p99 {p.read_p99_ms:.1f} ms = "
            f"{p.read_p99_ms / GOAL_P99_MS:.2f}x the 50 ms bound{vs_limit}: goal **{'met' if met else 'missed'}**."
            f" The API processes spent {p.server_cpu_ms:.2f} ms of CPU per read: {2000 / p.server_cpu_ms:,.0f} reads/s if they had"
            " both cores to themselves (no load generator, no database server, no other work)."
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0, help="measured seconds per phase (at least 60 for the record)")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--subjects", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8, help="clients in the closed loop")
    parser.add_argument("--write-share", type=float, default=0.2)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--sqlite-workers", type=int, default=1)
    parser.add_argument("--pg-workers", type=int, default=2)
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("LENDSHIELD_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
        help="a PostgreSQL server where a scratch database may be created (env LENDSHIELD_BENCH_DATABASE_URL)",
    )
    parser.add_argument("--no-peer", action="store_true", help="skip the no-gate limit")
    parser.add_argument("--no-jobs", action="store_true", help="API processes without their in-process jobs (integrator, watch)")
    parser.add_argument(
        "--hot-read-threads",
        type=int,
        default=None,
        help="threads per API process for the masked read (0: the event loop; default: the setting)",
    )
    parser.add_argument("--record", action="store_true", help="append the figures to docs/benchmarks.md")
    parser.add_argument("--profile", action="store_true", help="profile one server process (the first backend) under the read load")
    parser.add_argument("--load", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        load_main(args.load)
        return
    if args.profile:
        profile_server(args)
        return

    phases: list[Phase] = []
    for backend in args.backends.split(","):
        workers = args.sqlite_workers if backend == "sqlite" else args.pg_workers
        try:
            phases += bench_backend(backend, workers, args)
        except Exception as exc:  # PostgreSQL may be absent on a developer's machine: say so, keep the rest
            if backend == "sqlite":
                raise
            print(f"[{backend}] skipped: {type(exc).__name__}: {exc}", file=sys.stderr)
    lines = report(phases, args)
    print("\n".join(lines))
    if args.record:
        record(lines, args)


def record(lines: list[str], args: argparse.Namespace) -> None:
    cores = os.cpu_count()
    header = [
        "",
        "## API under load (`benchmarks/api.py`)",
        "",
        f"Command: `.venv/bin/python benchmarks/api.py {shlex.join(sys.argv[1:])}` — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())},"
        f" {cores} cores shared by the server, the load process"
        f" and other work, Python {platform.python_version()}; {args.seconds:g} s measured per load after {args.warmup:g} s of warm-up.",
        "",
    ]
    with (ROOT / "docs" / "benchmarks.md").open("a") as fh:
        fh.write("\n".join(header + lines) + "\n")


if __name__ == "__main__":
    main()
