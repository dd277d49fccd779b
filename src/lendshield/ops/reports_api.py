"""Compliance reports for the officer and auditors; public transparency figures for everyone."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from lendshield.ops import reports
from lendshield.web.deps import PrincipalDep, RuntimeDep, unit_of_work

router = APIRouter(tags=["reports"])


@router.get(
    "/v1/reports/compliance",
    response_model=None,
    responses={
        200: {"description": "The report as JSON, or as HTML with `format=html`", "content": {"application/json": {}, "text/html": {}}}
    },
)
def compliance(rt: RuntimeDep, who: PrincipalDep, format: Literal["json", "html"] = "json") -> Any:
    with unit_of_work(rt) as session:
        report = reports.compliance_report(session, rt, who)
    if format == "html":
        return HTMLResponse(reports.to_html(report))
    return report


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
