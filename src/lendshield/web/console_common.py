"""What the staff console's page modules share: the signed-in staff member, rendering with the
session's CSRF token, refusals as pages, and deadline labels for rights requests.

No page reads data on its own: each calls the same service function as the API, which checks
the role and writes the ledger entry.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Cookie, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from lendshield.accounts import service as accounts
from lendshield.errors import InvalidInput, LendShieldError
from lendshield.policy import Effect
from lendshield.principals import Principal
from lendshield.rights import service as rights
from lendshield.rights.models import RightsRequestRow
from lendshield.runtime import Runtime
from lendshield.web.pages import _csrf_for, _staff, render

SessionCookie = Annotated[str | None, Cookie(alias="ls_session")]


@dataclass(frozen=True, slots=True)
class Staff:
    who: Principal
    identity: accounts.AccountIdentity


def signed_in(rt: Runtime, token: str | None) -> Staff | None:
    found = _staff(rt, token)
    return None if found is None else Staff(found[0], found[1])


def staff_context(who: Principal) -> dict[str, Any]:
    return {"name": who.name, "roles": sorted(who.roles)}


def page(request: Request, template: str, who: Principal, status: int = 200, **context: Any) -> HTMLResponse:
    """A console page for ``who``: the nav for their roles and the session's CSRF token in every form."""
    return render(request, template, status=status, staff=staff_context(who), csrf=_csrf_for(request), **context)


def refused(request: Request, who: Principal, exc: LendShieldError) -> HTMLResponse:
    """A refusal (403 for a role that may not see the page, 404, 409 ...) as a page with the reason."""
    return page(request, "console/refused.html", who, status=exc.status, error=exc.detail, code=exc.code)


def usable_purposes(rt: Runtime, who: Principal) -> list[str]:
    """Purposes for which a policy rule of the caller's roles shows at least one field (masked or
    clear); the gate still decides each read, with the case's conditions and consent."""
    table = rt.policy.table
    return sorted({purpose for (role, purpose, _f), rule in table.items() if role in who.roles and rule.effect is not Effect.DENY})


def purpose_label(rt: Runtime, purpose: str, lang: str) -> str:
    p = rt.policy.purposes.by_id.get(purpose)
    if p is None:
        return purpose
    return p.label_zh if lang == "zh_CN" else p.label_en


@dataclass(frozen=True, slots=True)
class DeadlineState:
    state: str  # overdue | due_soon | on_track | answered
    working_days_left: int | None


def deadline_states(session: Session, rt: Runtime, views: Sequence[rights.RequestView]) -> dict[str, DeadlineState]:
    """For each request: overdue, due soon (within ``alert_before_working_days``), on track, or answered,
    in its jurisdiction's time zone and working-day calendar (the same rules the deadline alerts use)."""
    if not views:
        return {}
    where = dict(
        session.execute(
            select(RightsRequestRow.id, RightsRequestRow.jurisdiction).where(RightsRequestRow.id.in_([v.id for v in views]))
        ).all()
    )
    before = rights.rules(rt).alert_before_working_days
    now = rt.clock.now()
    out: dict[str, DeadlineState] = {}
    for v in views:
        if v.status not in rights.OPEN_STATUSES:
            out[v.id] = DeadlineState("answered", None)
            continue
        code = where.get(v.id, rights.rules(rt).default_jurisdiction)
        today = rights.local_date(rt, code, now)
        left = rights.calendar_for(rt, code).working_days_between(today, v.due_on)
        state = "overdue" if today > v.due_on else "due_soon" if left <= before else "on_track"
        out[v.id] = DeadlineState(state, left)
    return out


def by_urgency(views: Sequence[rights.RequestView], states: dict[str, DeadlineState]) -> list[rights.RequestView]:
    """Overdue first, then due soon, then the rest; soonest due date first within each."""
    rank = {"overdue": 0, "due_soon": 1, "on_track": 2, "answered": 3}
    return sorted(views, key=lambda v: (rank[states[v.id].state], v.due_on, v.filed_at))


def utc(when: dt.datetime | None) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC") if when else ""


def form_time(raw: str | None, name: str) -> dt.datetime | None:
    """A form's date and time (``datetime-local``: no offset) as UTC, the zone the console shows."""
    if not raw:
        return None
    try:
        parsed = dt.datetime.fromisoformat(raw)
    except ValueError as exc:
        raise InvalidInput(f"{name}: a date and time like 2026-11-23T10:00") from exc
    return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed.astimezone(dt.UTC)
