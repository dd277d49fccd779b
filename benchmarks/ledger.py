"""Ledger benchmark: ours vs pymerkle (peer) vs bare hashlib (limit), on SQLite, in one run.

    .venv/bin/python benchmarks/ledger.py [--sizes 1000000,10000000] [--entries-up-to 1000000]
                                          [--peer-sizes 1000000] [--proofs 200] [--peer-proofs 20]

Prints each figure, the peer's and the ratio. Integration is also given per CPU-second of the
process, which on a machine shared with other work is what one free core would do. Goals (issue 3): integration >= 250,000 leaves/s,
inclusion proof < 1 ms at 10M leaves (cold), >= 50x pymerkle's cold-proof speed on SQLite.

Trees up to ``--entries-up-to`` leaves are built from real entry rows and timed through
``tree.integrate_all`` (reading and checking every body): that is the integration figure. Larger
trees (10M) would take most of an hour to fill with entry rows, so they are built by
``tree.unsafe_integrate_leaf_hashes``: the integrator's own tile writing, root, consistency check
and signing, fed leaf hashes directly (it refuses a log that has entries); its rate is printed
separately and is not the integration figure. Proofs are the same either way: they read tiles.
The peer is measured on trees of the sizes in ``--peer-sizes``; a ratio is printed only for a
size both were measured at.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert

from lendshield import ledger
from lendshield.crypto import LocalKeyFile
from lendshield.ledger import merkle, tree
from lendshield.ledger.entry import canonical_body
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
                body = canonical_body(ledger.Entry(time=NOW, actor="system", action="bench.op", object=str(seq)).body(seq))
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


def bare_tree(rt: Runtime, n: int, batch: int = 200_000) -> float:
    """Build a tree of ``n`` synthetic leaf hashes through the integrator's path; seconds taken."""
    took = 0.0
    for start in range(0, n, batch):
        leaves = [hashlib.sha256(b"\x00bench %d" % i).digest() for i in range(start, min(n, start + batch))]
        t = time.perf_counter()
        with rt.sessions() as s:
            tree.unsafe_integrate_leaf_hashes(s, rt, leaves)
            s.commit()
        took += time.perf_counter() - t
    return took


def cold_proofs(rt: Runtime, size: int, count: int, rng: random.Random) -> float:
    """Median ms of an inclusion proof in a fresh session (no tile cache), random leaves."""
    times = []
    for _ in range(count):
        idx = rng.randrange(size)
        t = time.perf_counter()
        with rt.sessions() as s:
            reader = tree.TileReader(s, inner=True)  # as ledger.proofs serves them
            reader.prefetch(size, idx)
            merkle.inclusion_proof(idx, size, reader.node)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def peer_cold_proof(base: Path, size: int, count: int, rng: random.Random, say: Callable[[str], None]) -> float:
    """pymerkle SqliteTree of ``size`` entries: append time, then the median ms of cold proofs."""
    import pymerkle

    peer = pymerkle.SqliteTree(str(base / f"peer{size}.db"))
    t = time.perf_counter()
    chunk = 100_000
    for start in range(0, size, chunk):
        peer.append_entries([b"e%d" % i for i in range(start, min(size, start + chunk))])
    say(f"pymerkle append_entries at {size:,}: {rate(size, time.perf_counter() - t)} (hashing only, no tiles or checkpoint)")
    times = []
    for _ in range(count):
        peer.cache_clear()
        idx = rng.randrange(1, size + 1)
        t = time.perf_counter()
        peer.prove_inclusion(idx, size)
        times.append(time.perf_counter() - t)
    peer.close()
    return statistics.median(times) * 1000


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f}/s"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000000,10000000", help="tree sizes for integration and cold proofs")
    ap.add_argument("--entries-up-to", type=int, default=1_000_000, help="build trees up to this size from entry rows")
    ap.add_argument("--peer-sizes", default="1000000", help="tree sizes for pymerkle (ratios only where sizes match)")
    ap.add_argument("--proofs", type=int, default=200, help="cold proofs per size (ours)")
    ap.add_argument("--peer-proofs", type=int, default=20, help="cold proofs per size (pymerkle)")
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",") if x]
    peer_sizes = [int(x) for x in args.peer_sizes.split(",") if x]
    base = Path(tempfile.mkdtemp(prefix="lendshield-bench-"))
    out: list[str] = []
    proof_ms: dict[int, float] = {}
    rng = random.Random(3)

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
    rt.engine.dispose()

    # Limit: bare hashlib leaf+node hashing of the same number of leaves.
    leaves = [hashlib.sha256(b"\x00%d" % i).digest() for i in range(1_000_000)]
    t = time.perf_counter()
    merkle.root_of(leaves)
    limit = 1_000_000 / (time.perf_counter() - t)
    say(f"limit: hashlib tree hashing {limit:,.0f} leaves/s")

    for size in sizes:
        rt = make_rt(base, f"n{size}")
        if size <= args.entries_up_to:
            t = time.perf_counter()
            bulk_entries(rt, size)
            say(f"(filled {size:,} entry rows in {time.perf_counter() - t:.0f} s, not timed below)")
            t, cpu = time.perf_counter(), time.process_time()
            tree.integrate_all(rt)
            took, cpu = time.perf_counter() - t, time.process_time() - cpu
            say(
                f"integration at {size:,} (entry rows read and checked, tiles, signed checkpoints): {rate(size, took)}"
                f" wall-clock, {rate(size, cpu)} per CPU-second of this process"
            )
        else:
            took = bare_tree(rt, size)
            say(f"tree of {size:,} bare leaf hashes via tree.unsafe_integrate_leaf_hashes (no entry reads): {rate(size, took)}")
        ours_ms = cold_proofs(rt, size, args.proofs, rng)
        say(f"inclusion proof at {size:,} (cold, median of {args.proofs}): {ours_ms:.3f} ms")
        proof_ms[size] = ours_ms
        rt.engine.dispose()

    # Verification per second (our verifier, pure Python).
    node = merkle.list_node_fn(leaves[:4096])
    root = merkle.root_of(leaves[:4096])
    proof = merkle.inclusion_proof(1234, 4096, node)
    t = time.perf_counter()
    for _ in range(20_000):
        merkle.verify_inclusion(1234, 4096, leaves[1234], proof, root)
    say(f"inclusion verification: {rate(20_000, time.perf_counter() - t)}")

    # Peer: pymerkle SqliteTree, cold proofs on trees of the same sizes as ours.
    for size in peer_sizes:
        peer_ms = peer_cold_proof(base, size, args.peer_proofs, rng, say)
        say(f"pymerkle inclusion proof at {size:,} (cold, median of {args.peer_proofs}): {peer_ms:.3f} ms")
        if size in proof_ms:
            say(f"cold-proof speed ratio ours/pymerkle at {size:,} (same size): {peer_ms / proof_ms[size]:.1f}x")
    Path(base / "results.txt").write_text("\n".join(out) + "\n")
    print(f"results in {base / 'results.txt'}")


if __name__ == "__main__":
    main()
