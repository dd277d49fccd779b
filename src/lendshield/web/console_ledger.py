"""Ledger search for the protection officer and auditors: by sequence number, action, actor and
time range, newest first, with a link to the public signed checkpoint.

Entries hold no personal value (subjects appear as keyed references), so the page shows them
as they are. Only ``ledger`` may import the ledger's ORM models (an import contract): this
module reads the ``ledger_entries`` table through a Core description of the columns it shows,
and never writes it.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy import BigInteger, String, Text, column, select, table
from sqlalchemy.orm import Session

from lendshield.db.base import UTCDateTime
from lendshield.errors import Forbidden, LendShieldError
from lendshield.ledger import proofs, tree
from lendshield.web.console_common import SessionCookie, form_time, page, refused, signed_in, utc
from lendshield.web.deps import RuntimeDep, unit_of_work
from lendshield.web.pages import _to_login

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 100
_ENTRIES = table(
    "ledger_entries",
    column("seq", BigInteger()),
    column("time", UTCDateTime()),
    column("actor", String(64)),
    column("action", String(64)),
    column("subject_ref", String(64)),
    column("body", Text()),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Search:
    """A parsed search: every field optional; ``before`` is the paging cursor (a sequence number)."""

    seq: int | None = None
    action: str | None = None
    actor: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    before: int | None = None


def _like(pattern: str) -> str:
    """``subject.*`` as SQL LIKE, with LIKE's own wildcards escaped."""
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%")


def search_entries(session: Session, s: Search, limit: int = PAGE_SIZE) -> list[dict[str, Any]]:
    """Entries matching ``s``, newest first (at most ``limit``)."""
    c = _ENTRIES.c
    query = select(c.seq, c.time, c.actor, c.action, c.subject_ref, c.body).order_by(c.seq.desc()).limit(limit)
    if s.seq is not None:
        query = query.where(c.seq == s.seq)
    if s.action:
        query = query.where(c.action.like(_like(s.action), escape="\\") if "*" in s.action else c.action == s.action)
    if s.actor:
        query = query.where(c.actor == s.actor)
    if s.since is not None:
        query = query.where(c.time >= s.since)
    if s.until is not None:
        query = query.where(c.time <= s.until)
    if s.before is not None:
        query = query.where(c.seq < s.before)
    out = []
    for seq, when, actor, action, subject_ref, body in session.execute(query):
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = {}  # a damaged body is the audit's to report; the columns still show
        parsed = parsed if isinstance(parsed, dict) else {}

        def text(key: str, parsed: dict[str, Any] = parsed) -> str:
            value = parsed.get(key)
            return value if isinstance(value, str) else ""

        out.append(
            {
                "seq": int(seq),
                "time": utc(when),
                "actor": actor,
                "action": action,
                "subject_ref": subject_ref or "",
                "object": text("object"),
                "purpose": text("purpose"),
                "decision": text("decision"),
                "rule_id": text("rule_id"),
                "reason": text("reason"),
            }
        )
    return out


@router.get("/console/ledger", response_model=None)
def ledger_page(
    request: Request,
    rt: RuntimeDep,
    seq: Annotated[str | None, Query(max_length=19, pattern=r"^[0-9]*$")] = None,
    action: Annotated[str | None, Query(max_length=64, pattern=r"^[a-z0-9_.*-]*$")] = None,
    actor: Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9:._-]*$")] = None,
    since: Annotated[str | None, Query(max_length=32)] = None,
    until: Annotated[str | None, Query(max_length=32)] = None,
    before: Annotated[str | None, Query(max_length=19, pattern=r"^[0-9]*$")] = None,
    ls_session: SessionCookie = None,
) -> Response:
    staff = signed_in(rt, ls_session)
    if staff is None:
        return _to_login()
    who = staff.who
    form = {"seq": seq or "", "action": action or "", "actor": actor or "", "since": since or "", "until": until or ""}
    try:
        if not who.has_role(*proofs.SEE_ALL_ROLES):
            raise Forbidden("ledger search is for protection officers and auditors")
        search = Search(
            seq=int(seq) if seq else None,
            action=action or None,
            actor=actor or None,
            since=form_time(since, "since"),
            until=form_time(until, "until"),
            before=int(before) if before else None,
        )
    except Forbidden as exc:
        return refused(request, who, exc)
    except LendShieldError as exc:
        return page(request, "console/ledger.html", who, status=exc.status, error=exc.detail, form=form, entries=[], checkpoint=None)
    with unit_of_work(rt) as session:
        entries = search_entries(session, search)
        cp = tree.latest(session)
        checkpoint = {"size": cp.size} if cp is not None else None
    more = None
    if len(entries) == PAGE_SIZE:
        more = {**{k: v for k, v in form.items() if v}, "before": entries[-1]["seq"]}
    return page(request, "console/ledger.html", who, form=form, entries=entries, checkpoint=checkpoint, more=more)
