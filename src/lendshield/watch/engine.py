"""The watch job: process ledger entries after the cursor, in batches, and raise alerts.

Each batch is one transaction: the alerts it raises (with their ledger entries) and the cursor's
advance commit together, so a crash repeats a batch rather than skipping one, and dedup makes
the repeat harmless. The cursor row is locked first, so concurrent runs (several web processes,
workers) take turns instead of racing.
"""

from __future__ import annotations

import time as _time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import String, column, select, table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from lendshield import ledger
from lendshield.errors import Forbidden
from lendshield.loans.models import LoanRow
from lendshield.principals import Principal
from lendshield.principals.models import PrincipalRow
from lendshield.runtime import Runtime
from lendshield.watch import config, ledger_read, rules
from lendshield.watch.alerts import Finding, merge_findings, record
from lendshield.watch.canaries import canary_refs
from lendshield.watch.config import WatchConfig, matches
from lendshield.watch.models import WatchCursorRow

_CURSOR_ID = 1
# Only ids of the borrower-contact links are read (never personal values); subjects owns the model.
_LINKS = table("subject_links", column("borrower_id", String(36)), column("contact_id", String(36)))


@dataclass(frozen=True, slots=True)
class RunResult:
    processed: int
    alerts_raised: int
    cursor: int


def _lock_cursor(session: Session, rt: Runtime) -> int | None:
    """Lock the cursor row and return it; None when another run holds it (PostgreSQL).

    Several web processes tick every few seconds: a process that finds the watch busy skips its
    tick instead of queueing behind the other. SQLite's ``BEGIN IMMEDIATE`` already serialises.
    """
    dialect = session.get_bind().dialect.name
    values = {"id": _CURSOR_ID, "last_seq": -1, "updated_at": rt.clock.now()}
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(WatchCursorRow).values(**values).on_conflict_do_nothing(index_elements=["id"]))
    query = select(WatchCursorRow.last_seq).where(WatchCursorRow.id == _CURSOR_ID)
    if dialect == "postgresql":
        query = query.with_for_update(skip_locked=True)
    value = session.execute(query).scalar_one_or_none()
    return None if value is None else int(value)


def cursor(session: Session) -> int:
    value = session.scalar(select(WatchCursorRow.last_seq).where(WatchCursorRow.id == _CURSOR_ID))
    return -1 if value is None else int(value)


class _Assigned:
    """Collector -> subject_refs of the people on their loans (borrowers and emergency contacts).

    The ledger carries keyed refs, never ids, so the candidates' refs are computed (one HMAC
    each) once per collector per batch, instead of mapping every ref back.
    """

    def __init__(self, session: Session, rt: Runtime) -> None:
        self._session = session
        self._rt = rt
        self._cache: dict[str, frozenset[str]] = {}

    def __call__(self, collector_id: str) -> frozenset[str]:
        cached = self._cache.get(collector_id)
        if cached is not None:
            return cached
        borrowers = sorted(set(self._session.scalars(select(LoanRow.borrower_id).where(LoanRow.assigned_collector_id == collector_id))))
        people = set(borrowers)
        for start in range(0, len(borrowers), 500):
            chunk = borrowers[start : start + 500]
            people.update(self._session.scalars(select(_LINKS.c.contact_id).where(_LINKS.c.borrower_id.in_(chunk))))
        refs = frozenset(ledger.subject_ref(self._rt.keys, sid) for sid in people)
        self._cache[collector_id] = refs
        return refs


def _roles(session: Session, actors: set[str]) -> dict[str, frozenset[str]]:
    out: dict[str, frozenset[str]] = {}
    wanted = sorted(actors)
    for start in range(0, len(wanted), 500):
        for pid, roles in session.execute(
            select(PrincipalRow.id, PrincipalRow.roles).where(PrincipalRow.id.in_(wanted[start : start + 500]))
        ):
            out[pid] = frozenset(str(r) for r in roles or ())
    return out


_Key = tuple[tuple[str, ...], int]


class History:
    """Actors' recent entries per (actions, lookback), kept across the batches of one run.

    Each actor's history is read from the database once, when the actor first appears; later
    batches append their own entries. Catching up on a long backlog is then linear, not a
    fresh look-back query per batch.
    """

    MAX_HELD = 500_000

    def __init__(self) -> None:
        self._upto: int | None = None
        self._open = False
        self._stores: dict[_Key, dict[str, list[ledger_read.Record]]] = {}

    def begin(self, after: int) -> None:
        # Another run moved the cursor (what is held has gaps), or the last batch never finished
        # (what is held has entries of a rolled-back batch): start afresh from the database.
        if self._upto != after or self._open:
            self._stores.clear()
        self._upto, self._open = after, True

    def end(self, last: int) -> None:
        self._upto, self._open = last, False
        if sum(len(v) for store in self._stores.values() for v in store.values()) > self.MAX_HELD:
            self._stores.clear()  # bounded memory: actors who stopped appearing are never pruned

    def get(
        self,
        session: Session,
        key: _Key,
        since: datetime,
        actors: set[str],
        after: int,
        batch: list[ledger_read.Record],
    ) -> dict[str, list[ledger_read.Record]]:
        patterns = list(key[0])
        store = self._stores.setdefault(key, {})
        missing = [a for a in actors if a not in store]
        if missing:
            fetched: dict[str, list[ledger_read.Record]] = defaultdict(list)
            for r in ledger_read.for_actors(session, missing, since, after, patterns):
                fetched[r.actor].append(r)
            for a in missing:
                store[a] = fetched.get(a, [])
        for r in batch:
            if r.actor in actors and matches(r.action, patterns):
                store[r.actor].append(r)
        for a in actors:
            store[a] = [r for r in store[a] if r.time >= since]
        return store


def evaluate(
    session: Session, rt: Runtime, cfg: WatchConfig, batch: list[ledger_read.Record], after: int, history: History | None = None
) -> list[Finding]:
    """The findings of every rule over the new entries ``batch`` (all with seq > ``after``)."""
    new = [r for r in batch if not r.action.startswith("watch.")]  # the watch's own entries
    if not new:
        return []
    history = history or History()
    staff = [r for r in new if r.actor not in cfg.ignore_actors]
    facts = rules.Facts(roles=_roles(session, {r.actor for r in staff}), canaries=canary_refs(session), assigned=_Assigned(session, rt))
    findings = rules.canary_touches(cfg, new, facts)
    earliest = min((r.time for r in staff), default=None)
    for rule in rules.ACTOR_RULES:
        patterns = rule.actions(cfg)
        actors = {r.actor for r in staff if patterns and rule.relevant(cfg, r)}
        if not actors or earliest is None:
            continue
        minutes = rule.lookback_minutes(cfg)
        # Rules that share actions and look-back (the read rules) share one history.
        key = (tuple(patterns), minutes)
        recent = history.get(session, key, earliest - timedelta(minutes=minutes), actors, after, staff)
        for actor in sorted(actors):
            findings += rule.evaluate(cfg, actor, recent.get(actor, []), after, facts)
    return merge_findings(findings)


def run_batch(session: Session, rt: Runtime, cfg: WatchConfig, history: History | None = None) -> tuple[int, int]:
    """One batch in the caller's transaction: (entries processed, alerts raised)."""
    after = _lock_cursor(session, rt)
    if after is None:
        return 0, 0  # another run is at work; it will process these entries
    batch = ledger_read.after(session, after, cfg.batch_size)
    if not batch:
        return 0, 0
    history = history or History()
    history.begin(after)
    raised = sum(record(session, rt, f) for f in evaluate(session, rt, cfg, batch, after, history))
    row = session.get(WatchCursorRow, _CURSOR_ID)
    assert row is not None
    row.last_seq, row.updated_at = batch[-1].seq, rt.clock.now()
    session.flush()
    history.end(batch[-1].seq)
    return len(batch), raised


def run(rt: Runtime, *, max_batches: int = 1000, history: History | None = None) -> RunResult:
    """Process everything the ledger has now (``lendshield watch run`` and the periodic job).

    A process that runs the watch again and again passes the same ``history``, so the next run
    starts from what this one read (it is dropped whenever another process moved the cursor).
    """
    cfg = config.for_runtime(rt)
    history = history if history is not None else History()
    processed = raised = 0
    for _ in range(max_batches):
        with rt.sessions() as session:
            n, a = run_batch(session, rt, cfg, history)
            session.commit()
        processed, raised = processed + n, raised + a
        if n == 0:
            break
    with rt.sessions() as session:
        at = cursor(session)
    return RunResult(processed=processed, alerts_raised=raised, cursor=at)


def follow(rt: Runtime, *, stop_after: float | None = None) -> RunResult:
    """Run every ``interval_seconds`` (from watch.yaml) until interrupted or ``stop_after`` seconds."""
    started = _time.monotonic()
    total = RunResult(0, 0, -1)
    history = History()
    while True:
        result = run(rt, history=history)
        total = RunResult(total.processed + result.processed, total.alerts_raised + result.alerts_raised, result.cursor)
        if stop_after is not None and _time.monotonic() - started >= stop_after:
            return total
        _time.sleep(config.for_runtime(rt).interval_seconds)


RUN_ROLES = frozenset({"protection_officer", "admin"})


def run_for(rt: Runtime, who: Principal) -> RunResult:
    """Process now on request (the officer checking before a review; an operator after a backlog)."""
    if not who.roles & RUN_ROLES:
        raise Forbidden("only the protection officer or an administrator may run the watch")
    return run(rt)
