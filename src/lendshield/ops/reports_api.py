"""Compliance reports for the officer and auditors; public transparency figures for everyone."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from fastapi.responses import HTMLResponse, Response

from lendshield.ops import reports, reports_pdf
from lendshield.web.deps import PrincipalDep, RuntimeDep, unit_of_work

router = APIRouter(tags=["reports"])


_FORMS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The report as JSON, as HTML with `format=html`, or as PDF with `format=pdf`",
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "text/html": {"schema": {"type": "string"}},
            "application/pdf": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


def _as(report: dict[str, Any], format: str, name: str) -> Any:
    if format == "html":
        return HTMLResponse(reports.to_html(report))
    if format == "pdf":
        return Response(
            reports_pdf.to_pdf(report), media_type="application/pdf", headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'}
        )
    return report


@router.get("/v1/reports/compliance", response_model=None, responses=_FORMS)
def compliance(
    rt: RuntimeDep,
    who: PrincipalDep,
    format: Literal["json", "html", "pdf"] = "json",
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> Any:
    """Generate, store (kept 3 years, PIPL Art. 56) and log a compliance report for [start, end]
    (UTC dates; by default from 1 January to today)."""
    with unit_of_work(rt) as session:
        report = reports.compliance_report(session, rt, who, start=start, end=end)
    return _as(report, format, f"compliance-{report['period']['start']}-{report['period']['end']}")


@router.get("/v1/reports/compliance/{report_id}", response_model=None, responses=_FORMS)
def stored_compliance(
    rt: RuntimeDep,
    who: PrincipalDep,
    report_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    format: Literal["json", "html", "pdf"] = "json",
) -> Any:
    """A compliance report generated earlier, as stored (kept 3 years); its SHA-256 is in the ledger."""
    with rt.sessions() as session:
        report, digest = reports.stored_report(session, who, report_id)
    return _as(report, format, f"compliance-{report_id}-{digest[:12]}")


@router.get("/v1/transparency")
def transparency(rt: RuntimeDep) -> dict[str, Any]:
    """Public: aggregate figures only (no authentication, nothing about any one person)."""
    with unit_of_work(rt) as session:
        return reports.transparency_figures(session)


@router.get("/transparency", include_in_schema=False)
def transparency_page(rt: RuntimeDep) -> Response:
    with unit_of_work(rt) as session:
        figures = reports.transparency_figures(session)
    return HTMLResponse(reports.transparency_html(figures))
