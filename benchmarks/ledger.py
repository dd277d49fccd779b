"""Ledger benchmark: ours vs pymerkle (peer) vs bare hashlib (limit), on SQLite, in one run.

    .venv/bin/python benchmarks/ledger.py [--sizes 1000000,10000000] [--peer-size 100000]

Prints each figure, the peer's and the ratio. Goals (issue 3): integration >= 250,000 leaves/s,
inclusion proof < 1 ms at 10M leaves (cold), >= 50x pymerkle's cold-proof speed on SQLite.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert

from lendshield import ledger
from lendshield.crypto import LocalKeyFile
from lendshield.ledger import merkle, tree
from lendshield.ledger.models import LedgerEntryRow, LedgerHead
from lendshield.runtime import Runtime, build_runtime
from lendshield.settings import Settings

NOW = datetime(2026, 11, 23, tzinfo=UTC)


def make_rt(base: Path, name: str) -> Runtime:
    from lendshield.db.migrate import upgrade

    data = base / name
    data.mkdir()
    LocalKeyFile.create(data / "keys.json")
    rt = build_runtime(Settings(environment="test", data_dir=data, database_url=f"sqlite:///{data}/l.db", jobs_enabled=False))
    upgrade(rt.engine)
    return rt


def bulk_entries(rt: Runtime, n: int) -> None:
    """Fill the entry table quickly (not what we measure): canonical bodies, as append writes them."""
    chunk = 50_000
    with rt.sessions() as s:
        for start in range(0, n, chunk):
            rows = []
            for seq in range(start, min(n, start + chunk)):
                body = ledger.canonical(ledger.Entry(time=NOW, actor="system", action="bench.op", object=str(seq)).body(seq))
                rows.append(
                    {
                        "seq": seq,
                        "time": NOW,
                        "actor": "system",
                        "action": "bench.op",
                        "subject_ref": None,
                        "body": body.decode(),
                        "details": None,
                        "leaf_hash": merkle.leaf_hash(body),
                    }
                )
            s.execute(insert(LedgerEntryRow), rows)
        s.query(LedgerHead).update({LedgerHead.next_seq: n})
        s.commit()


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f}/s"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000000,10000000")
    ap.add_argument("--peer-size", type=int, default=100_000)
    ap.add_argument("--proofs", type=int, default=200)
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    base = Path(tempfile.mkdtemp(prefix="lendshield-bench-"))
    out: list[str] = []
    proof_ms: list[float] = []

    def say(line: str) -> None:
        print(line, flush=True)
        out.append(line)

    # 1. Appends: one transaction per entry, and 1,000 per transaction.
    rt = make_rt(base, "append")
    n = 2000
    t = time.perf_counter()
    for i in range(n):
        with rt.sessions() as s:
            ledger.append(s, ledger.Entry(time=NOW, actor="system", action="bench.op", object=str(i)))
            s.commit()
    say(f"append, one transaction per entry: {rate(n, time.perf_counter() - t)}")
    t = time.perf_counter()
    for _ in range(10):
        with rt.sessions() as s:
            for i in range(1000):
                ledger.append(s, ledger.Entry(time=NOW, actor="system", action="bench.op", object=str(i)))
            s.commit()
    say(f"append, 1,000 per transaction: {rate(10_000, time.perf_counter() - t)}")

    # Limit: bare hashlib leaf+node hashing of the same number of leaves.
    leaves = [hashlib.sha256(b"\x00%d" % i).digest() for i in range(1_000_000)]
    t = time.perf_counter()
    merkle.root_of(leaves)
    limit = 1_000_000 / (time.perf_counter() - t)
    say(f"limit: hashlib tree hashing {limit:,.0f} leaves/s")

    for size in sizes:
        rt = make_rt(base, f"n{size}")
        bulk_entries(rt, size)
        t = time.perf_counter()
        tree.integrate_all(rt)
        took = time.perf_counter() - t
        say(f"integration at {size:,}: {rate(size, took)} (limit ratio {size / took / limit:.2f})")
        # Cold proofs: a fresh session (no tile cache) per proof, random leaves.
        import random

        times = []
        for _ in range(args.proofs):
            idx = random.randrange(size)
            t = time.perf_counter()
            with rt.sessions() as s:
                reader = tree.TileReader(s)
                reader.prefetch(size, idx)
                merkle.inclusion_proof(idx, size, reader.node)
            times.append(time.perf_counter() - t)
        ours_ms = statistics.median(times) * 1000
        say(f"inclusion proof at {size:,} (cold, median): {ours_ms:.3f} ms")
        proof_ms.append(ours_ms)
        rt.engine.dispose()

    # Verification per second (our verifier, pure Python).
    leaves_small = leaves[:size] if (size := 1 << 20) <= len(leaves) else leaves
    node = merkle.list_node_fn(leaves_small[:4096])
    root = merkle.root_of(leaves_small[:4096])
    proof = merkle.inclusion_proof(1234, 4096, node)
    t = time.perf_counter()
    for _ in range(20_000):
        merkle.verify_inclusion(1234, 4096, leaves_small[1234], proof, root)
    say(f"inclusion verification: {rate(20_000, time.perf_counter() - t)}")

    # Peer: pymerkle SqliteTree, cold proofs at --peer-size (it cannot reach 1M here in minutes).
    import pymerkle

    peer = pymerkle.SqliteTree(str(base / "peer.db"))
    t = time.perf_counter()
    peer.append_entries([b"e%d" % i for i in range(args.peer_size)])
    say(f"pymerkle append_entries at {args.peer_size:,}: {rate(args.peer_size, time.perf_counter() - t)}")
    import random

    ptimes = []
    for _ in range(20):
        peer.cache_clear()
        idx = random.randrange(1, args.peer_size + 1)
        t = time.perf_counter()
        peer.prove_inclusion(idx, args.peer_size)
        ptimes.append(time.perf_counter() - t)
    peer_ms = statistics.median(ptimes) * 1000
    say(f"pymerkle inclusion proof at {args.peer_size:,} (cold, median): {peer_ms:.3f} ms")
    say(f"cold-proof speed ratio ours/pymerkle (ours at {sizes[0]:,}, peer at only {args.peer_size:,}): {peer_ms / proof_ms[0]:.1f}x")
    Path(base / "results.txt").write_text("\n".join(out) + "\n")
    print(f"results in {base / 'results.txt'}")


if __name__ == "__main__":
    main()
