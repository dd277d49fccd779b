"""PII scanner: throughput and precision/recall per type, against Presidio and a plain ``re`` pass.

A Chinese corpus of at least 50 MB is generated (Faker zh_CN filler, names and places, with
planted, labelled values of every type and hard negatives: broken check digits, order numbers,
timestamps, clock times, product codes, numbers inside longer codes). In the same run:

- LendShield (``lendshield.dlp``, the file scanner ``lendshield scan`` uses): hyperscan engine on
  one core over the whole corpus, then all cores (``--jobs``) over the corpus split into parts,
  and the ``re`` fallback engine on a subset;
- Microsoft Presidio (presidio-analyzer, ``no_op`` NLP engine, so no model is loaded) with
  pattern recognisers equivalent to ours registered: the same regular expressions (names and
  addresses with look-behind, which Presidio's ``regex`` module allows, since it reports whole
  matches), the same checks as ``validate_result``, the same context words and window through a
  context enhancer; Presidio is slow, so it is measured on a subset (printed), one ``analyze``
  call per line as records are analysed, and for comparison on 100-line blocks;
- a plain ``re`` pass: one common regular expression per type, no checks, no normalisation.

Accuracy counts a finding as correct when type and span equal a planted value. Single-core
throughput is CPU time (the machine is shared, so wall time would measure the neighbours);
the all-cores figure is wall time, next to the one-core wall time of the same run.

Run: ``.venv/bin/python benchmarks/scan.py [--mb 50] [--presidio-mb 1] [--re-mb 5] [--repeat 3]``
(``--repeat`` measures every one-core figure, ours and the peers', that many times and keeps the
least CPU time of each: on a busy machine the neighbours only ever slow a run down).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import sys
import tempfile
import time
import unicodedata
import warnings
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from faker import Faker

from lendshield.dlp import PII_TYPES, Scanner, checks, default_config
from lendshield.dlp import synthetic as syn
from lendshield.dlp.filescan import ScanOptions, scan_file, scan_paths
from lendshield.dlp.patterns import pattern_specs

CHECKSUMMED = ("resident_id", "bank_card", "uscc")
Truth = set[tuple[int, str, int, int]]  # (line number, type, start column, end column), 0-based columns


# --- the corpus ----------------------------------------------------------------------------------


class Line:
    """Builds one line from pieces, remembering where the planted values are."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.spans: list[tuple[str, int, int]] = []

    def text(self, piece: str) -> None:
        self.parts.append(piece)
        self.size += len(piece)

    def value(self, kind: str, piece: str) -> None:
        self.spans.append((kind, self.size, self.size + len(piece)))
        self.text(piece)


def _full_width(value: str) -> str:
    return value.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789X"})


class CorpusMaker:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        fake = Faker("zh_CN")
        fake.seed_instance(seed)
        self.names = [fake.name() for _ in range(3000)]
        self.sentences = [fake.sentence(nb_words=12) for _ in range(3000)]
        self.companies = [fake.company() for _ in range(500)]
        self.places = [
            f"{fake.province()}{fake.city_name()}市{fake.district()}区{fake.street_name()}{self.rng.randint(1, 999)}号" for _ in range(3000)
        ]
        self.streets = [
            f"{fake.district()}区{fake.street_name()}{self.rng.randint(1, 300)}号{self.rng.randint(1, 30)}栋" for _ in range(1000)
        ]
        self.emails = [fake.email() for _ in range(2000)]
        self.ips = [fake.ipv4() for _ in range(2000)]

    def line(self, n: int, dense: bool) -> Line:
        """A log line or a note. Dense: every line carries 2-4 values or negatives (an export).
        Mixed: Faker sentences, with values in about a third of the lines (logs and notes)."""
        rng = self.rng
        ln = Line()
        if dense or rng.random() < 0.5:
            ln.text(f"2026-11-{rng.randint(1, 30):02d} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d} ")
            ln.text(rng.choice(("INFO ", "WARN ", "INFO ")) + f"case=C2026{n:010d} ")
        pieces = rng.randint(2, 4) if dense else (rng.randint(1, 3) if rng.random() < 0.35 else 0)
        negatives = 0 if dense or rng.random() > 0.2 else 1
        for _ in range(0 if dense else rng.randint(2, 5)):
            ln.text(rng.choice(self.sentences))
            if pieces and rng.random() < 0.5:
                getattr(self, "_" + rng.choice(_VALUES))(ln)
                ln.text(rng.choice(("，", "；", " ", "。")))
                pieces -= 1
            if negatives:
                self._negative(ln)
                ln.text("。")
                negatives -= 1
        for _ in range(pieces):
            getattr(self, "_" + rng.choice(_PIECES if dense else _VALUES))(ln)
            ln.text(rng.choice(("，", "；", " ", "。")))
        ln.text(rng.choice(self.sentences))
        return ln

    # Planted values, each with a realistic lead-in.
    def _resident_id(self, ln: Line) -> None:
        rng = self.rng
        ln.text(rng.choice(("身份证号：", "证件号码 ", "身份证:", "")))
        value = syn.resident_id(rng) if rng.random() < 0.9 else syn.legacy_resident_id(rng)
        if rng.random() < 0.1:
            value = _full_width(value)
        ln.value("resident_id", value)

    def _mobile(self, ln: Line) -> None:
        rng = self.rng
        ln.text(rng.choice(("手机：", "联系电话 ", "tel:", "")))
        m = syn.mobile(rng)
        form = rng.random()
        shown = m if form < 0.6 else f"+86 {m[:3]} {m[3:7]} {m[7:]}" if form < 0.8 else f"{m[:3]}-{m[3:7]}-{m[7:]}"
        ln.value("mobile", shown)

    def _bank_card(self, ln: Line) -> None:
        rng = self.rng
        ln.text(rng.choice(("银行卡号：", "还款卡 ", "卡号", "")))
        card = syn.bank_card(rng)
        shown = " ".join(card[i : i + 4] for i in range(0, 16, 4)) if len(card) == 16 and rng.random() < 0.2 else card
        ln.value("bank_card", shown)

    def _uscc(self, ln: Line) -> None:
        ln.text(f"{self.rng.choice(self.companies)} 统一社会信用代码 ")
        ln.value("uscc", syn.uscc(self.rng))

    def _passport(self, ln: Line) -> None:
        rng = self.rng
        ln.text("护照号码 ")
        ln.value("passport", rng.choice("EG") + f"{rng.randrange(10**8):08d}")

    def _plate(self, ln: Line) -> None:
        rng = self.rng
        ln.text("车牌号 ")
        letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
        ln.value(
            "licence_plate", rng.choice("京沪粤浙苏川鲁豫") + rng.choice(letters) + rng.choice(letters) + f"{rng.randrange(10**4):04d}"
        )

    def _landline(self, ln: Line) -> None:
        rng = self.rng
        ln.text("单位电话 ")
        area, digits = rng.choice((("010", 8), ("021", 8), ("0755", 8), ("0571", 8), ("028", 8)))
        ln.value("landline", f"{area}-{rng.randint(2, 8)}{rng.randrange(10 ** (digits - 1)):0{digits - 1}d}")

    def _email(self, ln: Line) -> None:
        ln.text("邮箱 ")
        ln.value("email", self.rng.choice(self.emails))

    def _ipv4(self, ln: Line) -> None:
        ln.text("登录IP ")
        ln.value("ipv4", self.rng.choice(self.ips))

    def _address(self, ln: Line) -> None:
        if self.rng.random() < 0.7:
            ln.text("家庭住址：")
            ln.value("address", self.rng.choice(self.places))
        else:
            ln.text("住址：")
            ln.value("address", self.rng.choice(self.streets))

    def _name(self, ln: Line) -> None:
        ln.text(self.rng.choice(("借款人：", "联系人 ", "紧急联系人：", "姓名:", "持卡人 ")))
        ln.value("person_name", self.rng.choice(self.names))
        ln.text(self.rng.choice(("，", " 电话", "先生", "；", " ")))

    # Hard negatives: look like personal data, are not.
    def _negative(self, ln: Line) -> None:
        rng = self.rng
        choice = rng.randrange(9)
        if choice == 0:
            ln.text(f"坏证 {syn.corrupt_check(syn.resident_id(rng))}")
        elif choice == 1:
            ln.text(f"坏卡 {syn.corrupt_check(syn.bank_card(rng))}")
        elif choice == 2:
            ln.text(f"订单号 {rng.randint(2019, 2026)}{rng.randrange(10**14):014d}")
        elif choice == 3:
            ln.text(f"时间戳 {1_700_000_000_000 + rng.randrange(10**11)}")
        elif choice == 4:
            ln.text(f"耗时 {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}")
        elif choice == 5:
            ln.text(f"版本 {rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 20)}.{rng.randint(0, 99)}.{rng.randint(0, 9)}")
        elif choice == 6:
            ln.text(f"型号 E{rng.randrange(10**8):08d}")
        elif choice == 7:
            ln.text(f"SKU{syn.mobile(rng)}A")
        else:
            ln.text(f"金额 {rng.randint(100, 99999)}.{rng.randrange(100):02d}元，流水 TX{syn.resident_id(rng)}")


_VALUES = (
    ("resident_id",) * 3
    + ("mobile",) * 3
    + ("bank_card",) * 2
    + (
        "uscc",
        "passport",
        "plate",
        "landline",
        "email",
        "ipv4",
        "address",
        "address",
        "name",
        "name",
    )
)
_PIECES = _VALUES + ("negative",) * 4


def make_corpus(path: Path, megabytes: float, *, dense: bool = False, seed: int = 2026) -> tuple[Truth, int]:
    """Write the corpus; return the planted values and the number of lines."""
    maker = CorpusMaker(seed)
    truth: Truth = set()
    target = int(megabytes * 1_000_000)
    written = 0
    n = 0
    with path.open("w", encoding="utf-8", newline="\n") as out:
        while written < target:
            ln = maker.line(n, dense)
            text = "".join(ln.parts)
            out.write(text + "\n")
            written += len(text.encode()) + 1
            truth.update((n, kind, a, b) for kind, a, b in ln.spans)
            n += 1
    return truth, n


# --- scoring --------------------------------------------------------------------------------------


R = TypeVar("R", bound=tuple[Any, ...])


def best(repeat: int, measure: Callable[..., R], *args: Any) -> R:
    """The run with the least CPU time (second item) of ``repeat`` runs: on a shared machine a
    run is only ever slowed down by the neighbours, never sped up."""
    runs = [measure(*args) for _ in range(max(1, repeat))]
    return min(runs, key=lambda run: run[1])


def score(predicted: Truth, truth: Truth, lines: int) -> dict[str, tuple[float, float, float, int]]:
    """Per type: precision, recall, F1, planted count, counting only the first ``lines`` lines."""
    truth = {t for t in truth if t[0] < lines}
    predicted = {p for p in predicted if p[0] < lines}
    out = {}
    for kind in PII_TYPES:
        t = {x for x in truth if x[1] == kind}
        p = {x for x in predicted if x[1] == kind}
        if not t and not p:
            continue
        tp = len(t & p)
        precision = tp / len(p) if p else 0.0
        recall = tp / len(t) if t else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out[kind] = (precision, recall, f1, len(t))
    return out


def prefix_lines(path: Path, megabytes: float) -> tuple[list[str], int]:
    """The first lines of the corpus up to about ``megabytes``."""
    lines: list[str] = []
    size = 0
    with path.open(encoding="utf-8") as f:
        for line in f:
            if size >= megabytes * 1_000_000:
                break
            lines.append(line.rstrip("\n"))
            size += len(line.encode())
    return lines, size


# --- LendShield ------------------------------------------------------------------------------------


def lendshield_file(path: Path, engine: str) -> tuple[Truth, float, int]:
    """The production path (file scanner, windows, decoding): findings and CPU seconds."""
    config = default_config().model_copy(update={"max_findings_per_file": 10**9})
    options = ScanOptions(config=config, engine=engine)
    scanner = Scanner(config, engine=engine)
    scanner.scan("预热 warm-up １")  # compile the patterns outside the timing
    start = time.process_time()
    result = scan_file(str(path), scanner, options)
    cpu = time.process_time() - start
    found = {
        (x.line - 1, x.finding.type, x.column - 1, x.column - 1 + len(x.finding.value)) for x in result.findings if x.line and x.column
    }
    return found, cpu, result.total


def lendshield_parallel(path: Path, jobs: int, workdir: Path) -> tuple[float, float]:
    """Wall seconds for one process over the file, then ``jobs`` processes over ``jobs * 2`` parts."""
    config = default_config().model_copy(update={"max_findings_per_file": 10**9})
    options = ScanOptions(config=config)
    parts = []
    with path.open(encoding="utf-8") as f:
        lines = f.readlines()
    step = len(lines) // (jobs * 2) + 1
    for i in range(0, len(lines), step):
        part = workdir / f"part{i // step:03d}.log"
        part.write_text("".join(lines[i : i + step]), encoding="utf-8")
        parts.append(str(part))
    del lines
    start = time.perf_counter()
    list(scan_paths(parts, options, jobs=1))
    one = time.perf_counter() - start
    start = time.perf_counter()
    list(scan_paths(parts, options, jobs=jobs))
    return one, time.perf_counter() - start


# --- the plain re pass -------------------------------------------------------------------------------

PLAIN_RE = {
    "resident_id": (
        r"[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx]"
        r"|[1-9]\d{7}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}"
    ),
    "mobile": r"(?:\+?86[ -]?)?1[3-9]\d[ -]?\d{4}[ -]?\d{4}",
    "bank_card": r"(?:\d{4}[ -]?){3}\d{4}(?:\d{3})?",
    "uscc": r"[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}",
    "passport": r"[EG]\d{8}",
    "licence_plate": r"[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼][A-Z][A-Z0-9]{5}",
    "landline": r"0\d{2,3}-\d{7,8}",
    "email": r"[\w.+-]+@[\w-]+\.[\w.-]+",
    "ipv4": r"(?:\d{1,3}\.){3}\d{1,3}",
    "address": r"[\u4e00-\u9fa5]{2,}(?:省|市)[\u4e00-\u9fa5]{1,}(?:市|区|县)[\u4e00-\u9fa5\d]*(?:路|街|道)\d+号(?:\d+栋)?",
    "person_name": r"(?<=姓名[:：])[\u4e00-\u9fa5]{2,3}|(?<=借款人[:：])[\u4e00-\u9fa5]{2,3}|(?<=联系人 )[\u4e00-\u9fa5]{2,3}",
}


def plain_re(lines: list[str]) -> tuple[Truth, float]:
    text = "\n".join(lines)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    compiled = {k: re.compile(v) for k, v in PLAIN_RE.items()}
    start = time.process_time()
    raw = [(kind, m.start(), m.end()) for kind, pattern in compiled.items() for m in pattern.finditer(text)]
    cpu = time.process_time() - start
    from bisect import bisect_right

    found = set()
    for kind, a, b in raw:
        n = bisect_right(starts, a) - 1
        found.add((n, kind, a - starts[n], b - starts[n]))
    return found, cpu


# --- Presidio ----------------------------------------------------------------------------------------


def presidio(lines: list[str]) -> tuple[Truth, float]:
    warnings.filterwarnings("ignore")
    import regex
    from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer, RecognizerRegistry
    from presidio_analyzer.context_aware_enhancers import ContextAwareEnhancer
    from presidio_analyzer.nlp_engine import NoOpNlpEngine

    config = default_config()
    today = time.gmtime()
    from datetime import date

    today_date = date(today.tm_year, today.tm_mon, today.tm_mday)
    check: dict[str, Callable[[str], bool]] = {
        "resident_id": lambda v: checks.resident_id(unicodedata.normalize("NFKC", v), today_date) is not None,
        "mobile": lambda v: checks.mobile(v) is not None,
        "bank_card": lambda v: checks.bank_card(v) is not None,
        "uscc": lambda v: checks.uscc(v) is not None,
        "landline": lambda v: checks.landline(v) is not None,
        "email": lambda v: checks.email(v) is not None,
        "licence_plate": lambda v: checks.licence_plate(v) is not None,
        "ipv4": lambda v: checks.ipv4(v, "", "") is not None,
        "ipv6": lambda v: checks.ipv6(v, "", "") is not None,
    }

    class Checked(PatternRecognizer):  # type: ignore[misc]
        def __init__(self, kind: str, patterns: list[Pattern]) -> None:
            super().__init__(
                supported_entity=kind,
                name=f"lendshield-{kind}",
                supported_language="zh",
                patterns=patterns,
                context=list(config.types[kind].context),  # type: ignore[index]
                global_regex_flags=regex.ASCII | regex.MULTILINE,
            )
            self.kind = kind

        def validate_result(self, pattern_text: str) -> bool | None:
            test = check.get(self.kind)
            if test is None:
                return None
            return None if test(pattern_text) else False

    class WindowContext(ContextAwareEnhancer):  # type: ignore[misc]
        """Our keyword proximity for Presidio: no_op produces no lemmas, so read the raw text."""

        def __init__(self) -> None:
            super().__init__(
                context_similarity_factor=0.0, min_score_with_context_similarity=0.0, context_prefix_count=0, context_suffix_count=0
            )

        def enhance_using_context(self, text, raw_results, nlp_artifacts, recognizers, context=None):  # type: ignore[no-untyped-def]
            lowered = text.lower()
            for r in raw_results:
                rule = config.types[r.entity_type]  # type: ignore[index]
                near = lowered[max(0, r.start - config.context_window) : r.start]
                if any(w in near for w in rule.context):
                    r.score = min(1.0, r.score + rule.boost)
            return raw_results

    recognizers = []
    for spec in pattern_specs():
        source = _presidio_source(spec.source)
        for kind in spec.types:
            recognizers.append(Checked(kind, [Pattern(f"{spec.name}-{kind}", source, config.types[kind].base)]))  # type: ignore[index]
    registry = RecognizerRegistry(recognizers=recognizers, supported_languages=["zh"])
    engine = AnalyzerEngine(
        registry=registry,
        nlp_engine=NoOpNlpEngine(models=[{"lang_code": "zh", "model_name": "no_op"}]),
        supported_languages=["zh"],
        context_aware_enhancer=WindowContext(),
    )
    engine.analyze(text="预热 13812345678", language="zh")
    found: Truth = set()
    start = time.process_time()
    for n, line in enumerate(lines):
        for r in engine.analyze(text=line, language="zh", score_threshold=config.min_confidence):
            found.add((n, r.entity_type, r.start, r.end))
    cpu = time.process_time() - start
    return found, cpu


def _presidio_source(source: str) -> str:
    """Presidio reports whole matches: what precedes our value group becomes a look-behind."""
    if "(?P<v>" not in source:
        return source
    head, _, rest = source.partition("(?P<v>")
    depth = 1
    for i, ch in enumerate(rest):
        if ch == "\\":
            continue
        if ch == "(" and (i == 0 or rest[i - 1] != "\\"):
            depth += 1
        elif ch == ")" and (i == 0 or rest[i - 1] != "\\"):
            depth -= 1
            if depth == 0:
                body, tail = rest[:i], rest[i + 1 :]
                return (f"(?<={head})" if head else "") + body + tail
    raise ValueError("unbalanced value group")


# --- report ------------------------------------------------------------------------------------------


def table(title: str, rows: Iterable[tuple[str, dict[str, tuple[float, float, float, int]]]]) -> None:
    print(f"\n{title}")
    rows = list(rows)
    names = [name for name, _ in rows]
    print(f"  {'type':14} {'planted':>8} " + " ".join(f"{n + ' P/R/F1':>26}" for n in names))
    kinds = [k for k in PII_TYPES if any(k in r for _, r in rows)]
    for kind in kinds:
        planted = next((r[kind][3] for _, r in rows if kind in r), 0)
        cells = []
        for _, r in rows:
            p, rc, f1, _ = r.get(kind, (0.0, 0.0, 0.0, 0))
            cells.append(f"{p:8.4f} {rc:8.4f} {f1:8.4f}")
        print(f"  {kind:14} {planted:8d} " + " ".join(f"{c:>26}" for c in cells))


def measure(corpus: Path, truth: Truth, n_lines: int, work: Path, args: argparse.Namespace, label: str) -> dict[str, float]:
    """Every figure for one corpus; returns the throughput ratios and F1 of the checksummed types."""
    size = corpus.stat().st_size
    counts = Counter(t[1] for t in truth)
    print(f"\n== {label}: {size / 1e6:.1f} MB, {n_lines} lines, {len(truth)} planted values ({len(truth) / (size / 1e6):.0f} per MB)")
    print("   " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    load = os.getloadavg()[0]
    ours, cpu_hs, total = best(args.repeat, lendshield_file, corpus, "hyperscan")
    ours_mbs = size / 1e6 / cpu_hs
    print(f"LendShield, hyperscan, 1 core: {cpu_hs:.1f} s CPU for {size / 1e6:.1f} MB = {ours_mbs:.2f} MB/s ({total} findings)")

    re_lines, re_size = prefix_lines(corpus, args.re_mb)
    sub_path = work / f"{label}-subset.log"
    sub_path.write_text("\n".join(re_lines) + "\n", encoding="utf-8")
    ours_re, cpu_re, _ = best(args.repeat, lendshield_file, sub_path, "re")
    same = ours_re == {t for t in ours if t[0] < len(re_lines)}
    print(
        f"LendShield, re fallback engine, 1 core: {re_size / 1e6 / cpu_re:.2f} MB/s (on {re_size / 1e6:.1f} MB);"
        f" same findings as hyperscan: {'yes' if same else 'NO'}"
    )

    plain, cpu_plain = best(args.repeat, plain_re, re_lines)
    plain_mbs = re_size / 1e6 / cpu_plain
    print(f"plain re pass, 1 core: {plain_mbs:.2f} MB/s (on {re_size / 1e6:.1f} MB) -> LendShield {ours_mbs / plain_mbs:.1f}x")

    p_lines, p_size = prefix_lines(corpus, args.presidio_mb)
    found_p, cpu_p = best(args.repeat, presidio, p_lines)
    presidio_mbs = p_size / 1e6 / cpu_p
    print(
        f"Presidio (no_op NLP, our patterns and checks), 1 core: {presidio_mbs:.3f} MB/s (on the first {p_size / 1e6:.1f} MB only)"
        f" -> LendShield {ours_mbs / presidio_mbs:.0f}x"
    )
    blocks = ["\n".join(p_lines[i : i + 100]) for i in range(0, len(p_lines), 100)]
    _, cpu_blocks = best(args.repeat, presidio, blocks)
    blocks_mbs = p_size / 1e6 / cpu_blocks
    print(
        f"Presidio fed 100-line blocks instead of lines (throughput only): {blocks_mbs:.3f} MB/s -> LendShield {ours_mbs / blocks_mbs:.0f}x"
    )
    print(
        f"load average {load:.1f} at the start, {os.getloadavg()[0]:.1f} now"
        + (f"; every one-core figure is the best of {args.repeat} runs" if args.repeat > 1 else "")
    )
    if args.jobs > 1:
        one_wall, all_wall = lendshield_parallel(corpus, args.jobs, work)
        print(
            f"LendShield, all cores (--jobs {args.jobs} over {args.jobs * 2} parts), wall time: {size / 1e6 / all_wall:.2f} MB/s;"
            f" one process over the same parts, wall time: {size / 1e6 / one_wall:.2f} MB/s ({one_wall / all_wall:.2f}x)"
        )
    whole = score(ours, truth, n_lines)
    table(f"accuracy on the whole corpus ({size / 1e6:.0f} MB): LendShield", [("LendShield", whole)])
    table(
        f"accuracy on the first {re_size / 1e6:.1f} MB: LendShield vs plain re",
        [("LendShield", score(ours, truth, len(re_lines))), ("plain re", score(plain, truth, len(re_lines)))],
    )
    table(
        f"accuracy on the first {p_size / 1e6:.1f} MB: LendShield vs Presidio",
        [("LendShield", score(ours, truth, len(p_lines))), ("Presidio", score(found_p, truth, len(p_lines)))],
    )
    out = {"vs_presidio": ours_mbs / presidio_mbs, "vs_presidio_blocks": ours_mbs / blocks_mbs, "vs_plain_re": ours_mbs / plain_mbs}
    out.update({f"f1_{k}": whole.get(k, (0.0, 0.0, 0.0, 0))[2] for k in CHECKSUMMED})
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--mb", type=float, default=50.0, help="size of the main (mixed) corpus in MB; at least 50 for recorded figures")
    parser.add_argument("--dense-mb", type=float, default=5.0, help="size of the dense (export-like) corpus in MB; 0 to skip")
    parser.add_argument("--presidio-mb", type=float, default=1.0, help="subset Presidio is measured on")
    parser.add_argument("--re-mb", type=float, default=5.0, help="subset the plain re pass and our re engine are measured on")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--repeat", type=int, default=1, help="measure every one-core figure this many times and keep each one's least CPU time"
    )
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()} ({platform.system()})")
    results = {}
    with tempfile.TemporaryDirectory(prefix="lendshield-scan-bench-") as tmp:
        work = Path(tmp)
        corpus = work / "mixed.log"
        t0 = time.perf_counter()
        truth, n_lines = make_corpus(corpus, args.mb)
        print(f"generated the mixed corpus in {time.perf_counter() - t0:.0f} s")
        results["mixed"] = measure(corpus, truth, n_lines, work, args, "mixed corpus (logs and notes, values in about a third of lines)")
        corpus.unlink()
        if args.dense_mb > 0:
            dense = work / "dense.log"
            truth, n_lines = make_corpus(dense, args.dense_mb, dense=True)
            results["dense"] = measure(dense, truth, n_lines, work, args, "dense corpus (export-like, 2-4 values on every line)")
    print("\ngoals (on the mixed corpus; the dense corpus is shown for comparison):")
    for name, r in results.items():
        print(
            f"  [{name}] throughput vs Presidio >= 20x: {r['vs_presidio']:.0f}x per line {'met' if r['vs_presidio'] >= 20 else 'MISSED'}"
            f" ({r['vs_presidio_blocks']:.0f}x against 100-line blocks);"
            f" vs plain re >= 3x: {r['vs_plain_re']:.1f}x {'met' if r['vs_plain_re'] >= 3 else 'MISSED'};"
            + "; ".join(f" F1 {k} {r['f1_' + k]:.4f} {'met' if r['f1_' + k] >= 0.99 else 'MISSED'}" for k in CHECKSUMMED)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
