"""Console pages for the compliance reports of ``lendshield.ops.reports`` (the same function as
``GET /v1/reports/compliance``: it stores the report for at least 3 years, PIPL Art. 56, and
logs it), the reports generated before, and the rights on-time rate for a period.

For the protection officer and auditors; the figures are aggregates about no one person.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy import select

from lendshield.accounts import service as accounts
from lendshield.errors import Forbidden, InvalidInput, LendShieldError, NotFound
from lendshield.ops import reports
from lendshield.ops.models import ReportRow
from lendshield.principals import Principal
from lendshield.rights import service as rights
from lendshield.runtime import Runtime
from lendshield.web.console_common import SessionCookie, page, refused, signed_in, utc
from lendshield.web.deps import RuntimeDep, unit_of_work
from lendshield.web.pages import _to_login

router = APIRouter(include_in_schema=False)
LISTED = 50


def _require_reader(who: Principal) -> None:
    if not who.roles & reports.REPORT_ROLES:
        raise Forbidden("compliance reports are for the protection officer and auditors")


def _on_time(rt: Runtime, who: Principal, start: str | None, end: str | None) -> dict[str, Any] | None:
    if not start or not end:
        return None
    try:
        first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    except ValueError as exc:
        raise InvalidInput("start, end: dates like 2026-11-01") from exc
    if last < first:
        raise InvalidInput("end: must not be before start")
    r = rights.rules(rt)
    if not who.roles & (r.read_roles | r.work_roles):
        return None
    with unit_of_work(rt) as session:
        rate = rights.on_time_rate(session, rt, first, last)
    return {
        "answered": rate.answered,
        "on_time": rate.on_time,
        "late": rate.late,
        "open_overdue": rate.open_overdue,
        "rate": f"{rate.rate:.0%}" if rate.rate is not None else None,
    }


def _listing(rt: Runtime) -> list[dict[str, Any]]:
    with rt.sessions() as session:
        rows = session.scalars(select(ReportRow).order_by(ReportRow.id.desc()).limit(LISTED))
        return [{"id": r.id, "kind": r.kind, "at": utc(r.created_at), "by": r.created_by, "sha256": r.sha256} for r in rows]


@router.get("/console/reports", response_model=None)
def reports_page(
    request: Request,
    rt: RuntimeDep,
    start: Annotated[str | None, Query(max_length=10)] = None,
    end: Annotated[str | None, Query(max_length=10)] = None,
    ls_session: SessionCookie = None,
) -> Response:
    staff = signed_in(rt, ls_session)
    if staff is None:
        return _to_login()
    who = staff.who
    try:
        _require_reader(who)
    except LendShieldError as exc:
        return refused(request, who, exc)
    ctx: dict[str, Any] = {"listing": _listing(rt), "start": start or "", "end": end or ""}
    try:
        ctx["on_time"] = _on_time(rt, who, start, end)
    except LendShieldError as exc:
        return page(request, "console/reports.html", who, status=exc.status, error=exc.detail, **ctx)
    return page(request, "console/reports.html", who, **ctx)


@router.post("/console/reports/compliance", response_model=None)
def generate(
    request: Request, rt: RuntimeDep, csrf: Annotated[str, Form(max_length=128)] = "", ls_session: SessionCookie = None
) -> Response:
    """Generate, store and log a compliance report, then show it."""
    staff = signed_in(rt, ls_session)
    if staff is None:
        return _to_login()
    accounts.check_csrf(staff.identity, csrf)
    try:
        with unit_of_work(rt) as session:
            report = reports.compliance_report(session, rt, staff.who)
            stored = session.scalar(select(ReportRow.id).where(ReportRow.created_by == staff.who.id).order_by(ReportRow.id.desc()).limit(1))
    except LendShieldError as exc:
        return refused(request, staff.who, exc)
    return page(request, "console/report.html", staff.who, r=report, report_id=stored)


@router.get("/console/reports/{report_id}", response_model=None)
def stored_report(
    request: Request, report_id: Annotated[int, Path(ge=1, le=2**31 - 1)], rt: RuntimeDep, ls_session: SessionCookie = None
) -> Response:
    """A report generated earlier, as it was stored (its SHA-256 is in the ledger entry)."""
    staff = signed_in(rt, ls_session)
    if staff is None:
        return _to_login()
    try:
        _require_reader(staff.who)
        with rt.sessions() as session:
            row = session.get(ReportRow, report_id)
            if row is None or row.kind != "compliance":
                raise NotFound("no such report")
            body, digest = dict(row.body), row.sha256
    except LendShieldError as exc:
        return refused(request, staff.who, exc)
    return page(request, "console/report.html", staff.who, r=body, report_id=report_id, sha256=digest)
