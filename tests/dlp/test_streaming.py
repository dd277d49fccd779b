"""Streaming: bounded memory on large inputs, and values on window edges found exactly once."""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import sys
import textwrap

import pytest

from lendshield.dlp import Scanner, default_config
from lendshield.dlp import synthetic as syn
from lendshield.dlp.sources import Located, open_text, scan_text_stream

# Runs in its own process so the peak resident set is the scan's alone. The input is produced
# on the fly by a raw stream: nothing of it exists in memory or on disk beyond what is read.
MEMORY_PROBE = textwrap.dedent(
    """
    import io, json, random, resource, sys
    from lendshield.dlp import Scanner
    from lendshield.dlp import synthetic as syn
    from lendshield.dlp.sources import open_text, scan_text_stream

    total = int(sys.argv[1])
    rng = random.Random(7)
    lines = [f"2026-11-23 INFO 客户来电咨询还款事宜，已记录。身份证号 {syn.resident_id(rng)} 手机 {syn.mobile(rng)} 备注：无。\\n".encode()
             for _ in range(2000)]
    block = b"".join(lines)

    class Generated(io.RawIOBase):
        def __init__(self):
            self.left = total
        def readable(self):
            return True
        def readinto(self, buffer):
            n = min(len(buffer), self.left, len(block))
            buffer[:n] = block[:n]
            self.left -= n
            return n

    scanner = Scanner()
    scanner.scan("预热 13812345678 11010519491231002X")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    found = [0]
    def sink(batch):
        found[0] += len(batch)
    stream = open_text(io.BufferedReader(Generated(), 1 << 16))
    scan_text_stream(stream, scanner, sink)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"before_kb": before, "after_kb": after, "findings": found[0]}))
    """
)


def peak_growth_mb(megabytes: int) -> tuple[float, int]:
    result = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, str(megabytes * 1_000_000)], capture_output=True, text=True, timeout=300, check=True
    )
    report = json.loads(result.stdout)
    return (report["after_kb"] - report["before_kb"]) / 1024, report["findings"]


def test_memory_stays_bounded_on_a_20_mb_stream() -> None:
    small, _ = peak_growth_mb(4)
    large, findings = peak_growth_mb(20)
    assert findings > 300_000  # two values in each 150-byte line, all found
    # One window (a million characters), its encodings and its findings: the same for 4 MB and
    # 20 MB, and far below what reading the 20 MB whole would take (bytes, text and findings,
    # about 100 MB).
    assert large < small + 8, (small, large)
    assert large < 48, large


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("LENDSHIELD_LARGE_TESTS"), reason="set LENDSHIELD_LARGE_TESTS=1 for the 200 MB stream")
def test_memory_stays_bounded_on_a_200_mb_stream() -> None:
    small, _ = peak_growth_mb(20)
    large, findings = peak_growth_mb(200)
    assert findings > 3_000_000
    assert large < small + 8, (small, large)  # ten times the input, the same memory


def test_values_on_window_edges_are_found_exactly_once() -> None:
    config = default_config().model_copy(update={"chunk_chars": 4096})
    scanner = Scanner(config)
    rng = random.Random(12)
    lines = []
    for i in range(1500):
        pad = "啊" * rng.randint(0, 40)
        lines.append(f"{i} {pad}身份证 {syn.resident_id(rng)} {pad}手机 +86 138 {rng.randrange(10000):04d} {rng.randrange(10000):04d}")
    text = "\n".join(lines) + "\n"
    streamed: list[Located] = []
    scan_text_stream(io.StringIO(text), scanner, streamed.extend)
    expected = [(n + 1, f.start + 1, f.type, f.value) for n, line in enumerate(lines) for f in scanner.scan(line)]
    assert [(x.line, x.column, x.finding.type, x.finding.value) for x in streamed] == expected
    assert len(expected) == 3000


def test_invalid_bytes_do_not_stop_the_stream() -> None:
    rid = syn.resident_id(random.Random(3))
    data = b"\xff\xfe\xfa" + f"身份证 {rid}\n".encode() + b"\xc3(" + f"再一个 {rid}\n".encode()
    found: list[Located] = []
    scan_text_stream(open_text(io.BufferedReader(io.BytesIO(data))), Scanner(), found.extend)
    assert [(x.line, x.finding.normalized) for x in found] == [(1, rid), (2, rid)]
