"""The compliance report as a PDF, made in-process with ``fpdf2`` (no network, no external program).

Chinese text needs a CJK font, which LendShield does not ship: :func:`find_cjk_font` looks for one
on the system at run time (an explicit path first, then common install locations, then
``fc-match``). When none is found the PDF carries the English text only and says so on its first
page; making the PDF never fails for want of a font.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import shutil
import subprocess  # nosec B404: fc-match, found on PATH, with fixed arguments
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos

# Common places of fonts with Chinese glyphs (Debian/Ubuntu, Fedora, Arch, macOS, Windows).
CJK_FONT_CANDIDATES: tuple[str, ...] = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/wenquanyi/wqy-zenhei/wqy-zenhei.ttc",
    "/usr/share/fonts/wqy-zenhei/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/STHeiti Light.ttc",
    "/Library/Fonts/Arial Unicode.ttf",
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/simsun.ttc",
)
FONT_SUFFIXES = frozenset({".ttf", ".ttc", ".otf", ".otc"})
NO_CJK_NOTE = (
    "No font with Chinese characters was found on this system, so this PDF carries the English text only; "
    "the HTML and JSON forms of the same report carry the Chinese text."
)
_PROBE = "中文报告"
_CJK = "cjk"


def _has_cjk(path: Path) -> bool:
    """Whether the font file (the first face of a collection) has glyphs for Chinese text."""
    if path.suffix.lower() not in FONT_SUFFIXES or not path.is_file():
        return False
    try:
        from fontTools.ttLib import TTFont  # type: ignore[import-untyped]

        with TTFont(str(path), fontNumber=0, lazy=True) as font:
            cmap = font.getBestCmap() or {}
    except Exception:  # any unreadable font is no font
        return False
    return all(ord(c) in cmap for c in _PROBE)


def _fc_match() -> Path | None:
    exe = shutil.which("fc-match")
    if exe is None:
        return None
    try:
        out = subprocess.run(  # nosec B603: fixed arguments, no shell
            [exe, "--format=%{file}", ":lang=zh-cn"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(out.stdout.strip()) if out.returncode == 0 and out.stdout.strip() else None


@functools.lru_cache(maxsize=1)
def _system_cjk_font() -> Path | None:
    for candidate in CJK_FONT_CANDIDATES:
        path = Path(candidate)
        if _has_cjk(path):
            return path
    matched = _fc_match()
    return matched if matched is not None and _has_cjk(matched) else None


def find_cjk_font(explicit: str | Path | None = None, candidates: Iterable[str | Path] | None = None) -> Path | None:
    """The font to use for Chinese text: ``explicit`` when it has Chinese glyphs, otherwise the first
    of ``candidates`` (by default the common locations, then ``fc-match``) that has; None if none."""
    if explicit is not None and _has_cjk(Path(explicit)):
        return Path(explicit)
    if candidates is None:
        return _system_cjk_font()
    for candidate in candidates:
        if _has_cjk(Path(candidate)):
            return Path(candidate)
    return None


class _Paged(FPDF):
    """Every page names the report and its page number (a printed copy stays in order)."""

    footer_text = ""

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.font_family or "helvetica", "", 7.5)
        self.cell(0, 5, f"{self.footer_text} - page {self.page_no()}/{{nb}}", align="C")


class _Doc:
    """A thin writer over FPDF: headings, paragraphs and tables in one font, Chinese when it can."""

    def __init__(self, font: Path | None, title: str) -> None:
        self.pdf = _Paged(orientation="portrait", unit="mm", format="A4")
        self.pdf.set_auto_page_break(auto=True, margin=15)
        self.pdf.set_title(title)
        self.pdf.set_author("LendShield")
        self.pdf.set_creator("LendShield")
        self.cjk = font is not None
        if font is not None:
            # fontTools names each table it drops while subsetting (a CJK face's bitmaps): not news.
            logging.getLogger("fontTools.subset").setLevel(logging.ERROR)
            self.pdf.add_font(_CJK, "", str(font))
            self.pdf.add_font(_CJK, "B", str(font))  # table headings are bold; the same face serves
            self.family = _CJK
        else:
            self.family = "helvetica"
        self.pdf.add_page()

    def text(self, value: object) -> str:
        """The text as the font can show it (the core font knows Latin-1 only)."""
        s = "" if value is None else str(value)
        return s if self.cjk else s.encode("latin-1", "replace").decode("latin-1")

    def both(self, en: str, zh: str) -> str:
        return f"{en} · {zh}" if self.cjk else en

    def heading(self, en: str, zh: str, size: int = 13) -> None:
        self.pdf.ln(2)
        self.pdf.set_font(self.family, "", size)
        self.pdf.multi_cell(0, size * 0.5, self.text(self.both(en, zh)), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.pdf.set_font(self.family, "", 9.5)

    def para(self, value: str) -> None:
        self.pdf.set_font(self.family, "", 9.5)
        self.pdf.multi_cell(0, 5, self.text(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def pairs(self, items: Sequence[tuple[str, object]]) -> None:
        for label, value in items:
            self.para(f"{label}: {_show(value)}")

    def table(self, head: Sequence[str], rows: Sequence[Sequence[object]], widths: Sequence[int] | None = None) -> None:
        if not rows:
            self.para("none")
            return
        self.pdf.set_font(self.family, "", 8.5)
        with self.pdf.table(col_widths=widths, text_align="LEFT", line_height=4.5, first_row_as_headings=True) as table:
            for cells in [head, *rows]:
                row = table.row()
                for cell in cells:
                    row.cell(self.text(_show(cell)))
        self.pdf.set_font(self.family, "", 9.5)


def _show(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".")
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_show(v)}" for k, v in value.items()) or "none"
    if isinstance(value, list | tuple):
        return ", ".join(_show(v) for v in value) or "none"
    return str(value)


def _rate(value: float | None) -> str:
    return "no request answered in the period" if value is None else f"{value:.1%}"


def to_pdf(report: dict[str, Any], *, cjk_font: str | Path | None = None, font_candidates: Iterable[str | Path] | None = None) -> bytes:
    """The compliance report of :func:`lendshield.ops.reports.compliance_report` as PDF bytes.

    ``cjk_font`` names a font file to use for Chinese text (used when it has Chinese glyphs);
    otherwise ``font_candidates`` are tried (by default the common locations and ``fc-match``).
    Without any such font the PDF is English only and says so.
    """
    font = find_cjk_font(cjk_font, font_candidates)
    doc = _Doc(font, "LendShield compliance report")
    doc.pdf.footer_text = doc.text(f"LendShield compliance report, generated {report.get('generated_at', '-')}")
    period = report.get("period", {})
    doc.heading("LendShield compliance report", "合规报告", size=16)
    doc.pairs(
        [
            ("Generated", report.get("generated_at")),
            ("Period", f"{period.get('start', '-')} to {period.get('end', '-')}"),
            ("Kept until (PIPL Art. 56)", report.get("keep_until")),
        ]
    )
    if font is None:
        doc.para(NO_CJK_NOTE)

    t = report["thresholds"]
    officer = t.get("protection_officer_threshold", 1_000_000)
    audit = t.get("compliance_audit_threshold", 10_000_000)
    doc.heading("Thresholds", "门槛检查")
    doc.pairs(
        [
            ("People whose data is held", f"{t['people']:,}"),
            (f"Protection officer required (from {officer:,} people, PIPL Art. 52)", t["protection_officer_required"]),
            (f"Compliance audit at least every 2 years (above {audit:,} people, PIPL Art. 54)", t["compliance_audit_every_two_years"]),
        ]
    )
    if "protection_officers_designated" in t:
        doc.pairs([("Protection officers designated (active accounts)", t["protection_officers_designated"])])
        if not t["protection_officer_met"]:
            doc.para("ACTION NEEDED: a protection officer is required and none is designated.")

    if "rights" in report:
        r = report["rights"]
        doc.heading("Rights requests", "个人权利请求")
        doc.pairs(
            [
                ("Answered (filed in the period)", r["answered"]),
                ("On time", r["on_time"]),
                ("Late", r["late"]),
                ("Open and overdue", r["open_overdue"]),
                ("On-time rate", _rate(r["on_time_rate"])),
            ]
        )

    if "collection" in report:
        c = report["collection"]
        doc.heading("Collection contacts", "催收联系")
        doc.pairs([("Contact attempts", c["attempts"]), ("Blocked by the collection rules", c["blocked"])])
        doc.table(["rule id", "blocked"], [[rule, n] for rule, n in c["blocked_by_rule"].items()], widths=[3, 1])

    d = report["devices"]
    lat = d["payment_to_unlock_seconds"]
    doc.heading("Financed devices", "融资设备")
    doc.table(["command", "count"], [[k, v] for k, v in d["commands"].items()], widths=[3, 1])
    doc.pairs(
        [
            ("Lock requests by status", d["lock_requests"]),
            ("Payment-to-unlock episodes", lat["count"]),
            ("Payment to unlock, median (s)", lat["median"]),
            ("Payment to unlock, p95 (s)", lat.get("p95")),
            ("Payment to unlock, max (s)", lat["max"]),
            ("Unlocks after payment not yet acknowledged", lat.get("not_acknowledged")),
        ]
    )

    dr = report["drills"]
    doc.heading("Restore drills", "恢复演练")
    doc.pairs(
        [
            ("Runs", dr["runs"]),
            ("Failed", dr["failed"]),
            ("Last good", dr["last_good"] or "none"),
            ("Overdue", dr.get("overdue")),
        ]
    )
    if dr.get("recent_failures"):
        doc.table(
            ["backup", "finished", "failed checks"],
            [[f["backup"], f["finished_at"], f["failed_checks"]] for f in dr["recent_failures"]],
            widths=[3, 2, 3],
        )

    if "transfers" in report:
        x = report["transfers"]
        doc.heading("Recipients abroad and cross-border volumes", "境外接收方与出境数量")
        doc.table(
            ["recipient", "region", "kind", "status", "mechanism", "valid until"],
            [[r["name"], r["region"], r["kind"], r["status"], r["mechanism"], r["mechanism_valid_until"]] for r in x["recipients_abroad"]],
            widths=[4, 1, 3, 2, 3, 2],
        )
        doc.pairs(
            [
                (f"People provided abroad in {x['year']} (from 1 January)", f"{x['people_abroad']:,}"),
                ("of whom with sensitive data", f"{x['sensitive_people_abroad']:,}"),
                ("Mechanism the volumes need", x["required_tier"]),
            ]
        )

    i = report["incidents"]
    doc.heading("Incidents", "安全事件")
    doc.pairs(
        [
            ("Incidents", i["incidents"]),
            ("Regulator notified", i["regulator_notified"]),
            ("People affected", i["people_affected"]),
            ("People notified", i["people_notified"]),
        ]
    )

    doc.heading("Record of processing activities", "处理活动记录")
    rows = []
    for p in report["record_of_processing"]:
        label = f"{p['label_en']} / {p['label_zh']}" if doc.cjk else p["label_en"]
        fields = [f["name"] + (" (sensitive)" if f["sensitive"] else "") for f in p["fields"]]
        rows.append([label, p["legal_basis"], fields, p["retention_days"]])
    doc.table(["purpose", "legal basis", "fields", "retention (days)"], rows, widths=[3, 2, 6, 2])

    doc.heading("Impact assessments to complete (PIPL Art. 55)", "个人信息保护影响评估")
    for case in report["impact_assessments"]:
        doc.para(f"{case['purpose']}: {'; '.join(case['triggers'])}")
        doc.para(f"    sensitive fields: {_show(case['sensitive_fields'])}; to complete: {_show(case['to_complete'])}")

    doc.pdf.set_creation_date(_when(report.get("generated_at")))
    return bytes(doc.pdf.output())


def _when(value: object) -> dt.datetime:
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
    return dt.datetime.now(dt.UTC)
