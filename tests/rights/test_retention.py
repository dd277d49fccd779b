"""Retention (PIPL Art. 19: no longer than necessary; Art. 47: then delete or anonymise): the
sweeper erases people no purpose needs, keeps those under a legal hold, drops old packages and
closes unverified requests; `lendshield retention run --dry-run` shows it and changes nothing."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from lendshield.cli import context
from lendshield.cli.main import app as cli_app
from lendshield.clock import FrozenClock
from lendshield.loans.service import LoanEvent
from lendshield.rights import holds, retention
from lendshield.rights.models import RightsRequestRow, TombstoneRow
from lendshield.runtime import Runtime
from lendshield.subjects import service as subjects
from lendshield.subjects.errors import SubjectShredded
from tests.policy import gate_support as gs
from tests.rights import support as s


def _live(rt: Runtime, sid: str) -> bool:
    with rt.sessions() as session:
        try:
            subjects.require_live(session, sid)
        except SubjectShredded:
            return False
    return True


def test_retention_sweep_from_the_cli(
    rt: Runtime, client: TestClient, make_actor: Any, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    officer, clerk = make_actor("protection_officer"), make_actor("customer_service")
    done_with = gs.borrower(rt)
    gs.loan(rt, done_with, "L-done", ("p1", LoanEvent(kind="payoff")))
    still_paying = gs.borrower(rt, mobile="13987654321")
    gs.loan(rt, still_paying, "L-open")
    held = gs.borrower(rt, mobile="13700001111")
    gs.loan(rt, held, "L-held", ("p2", LoanEvent(kind="payoff")))
    with rt.sessions() as session:
        holds.place(session, rt, gs.OFFICER, held, kind="legal_hold", reason="court order to preserve the file", ends_on=date(2035, 1, 1))
        session.commit()
    access = s.file(client, clerk.headers, "access", subject_id=still_paying)
    with rt.sessions() as session:
        assert retention.plan(session, rt) == []  # nothing is due on day one

    clock.advance(timedelta(days=1826))  # past the longest retention_days in purposes.yaml
    monkeypatch.setattr(context, "runtime", lambda: rt)
    runner = CliRunner()
    dry = runner.invoke(cli_app, ["retention", "run", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert f"erase                  {done_with}" in dry.output
    assert f"keep_held              {held}" in dry.output
    assert f"close_unverified       {access['id']}" in dry.output
    assert still_paying not in dry.output
    assert "would: erase 1, keep_held 1, finish_held_deletion 0, drop_package 0, close_unverified 1" in dry.output
    assert _live(rt, done_with)  # the dry run changed nothing
    assert s.entries(rt, "retention.sweep") == []

    s.problem(client.post("/v1/rights/retention/sweep", headers=make_actor("collector").headers), 403)
    ran = runner.invoke(cli_app, ["retention", "run"])
    assert ran.exit_code == 0, ran.output
    assert "did: erase 1, keep_held 1" in ran.output
    assert not _live(rt, done_with)
    assert _live(rt, held)
    assert _live(rt, still_paying)
    with rt.sessions() as session:
        tomb = session.get(TombstoneRow, done_with)
        closed = session.get(RightsRequestRow, access["id"])
    assert tomb is not None
    assert tomb.ground == "retention_expired"
    assert tomb.deleted_by == "system"
    assert closed is not None
    assert closed.status == "refused"
    assert "identity was not verified" in (closed.refusal_reason or "")
    (sweep,) = s.entries(rt, "retention.sweep")
    assert sweep.details is not None
    assert sweep.details["erase"] == 1
    assert sweep.details["keep_held"] == 1
    again = client.post("/v1/rights/retention/sweep", headers=officer.headers).json()
    assert [a["kind"] for a in again["actions"]] == ["keep_held"]


def test_a_consent_purpose_ends_with_its_withdrawal_and_packages_are_dropped(
    rt: Runtime, client: TestClient, make_actor: Any, clock: FrozenClock
) -> None:
    officer = make_actor("protection_officer")
    me = s.person(rt)
    gs.give(rt, me.subject_id, "marketing")
    req = s.file(client, me.headers, "access")
    assert client.post(f"/v1/rights/requests/{req['id']}/fulfil", json={}, headers=officer.headers).status_code == 200
    clock.advance(timedelta(days=31))
    with rt.sessions() as session:
        needed = retention.purposes_needing(session, rt, me.subject_id, rt.clock.now())
        assert "marketing" in needed  # consent still given
        report = retention.sweep(session, rt, dry_run=False)
        session.commit()
    assert [(a.kind, a.target) for a in report.actions] == [("drop_package", req["id"])]
    s.problem(client.get(f"/v1/rights/requests/{req['id']}/package", headers=officer.headers), 409, "rights-request-state")
    gs.give(rt, me.subject_id, "marketing", action="withdraw")
    clock.advance(timedelta(days=366))
    with rt.sessions() as session:
        assert "marketing" not in retention.purposes_needing(session, rt, me.subject_id, rt.clock.now())
    with rt.sessions() as session:
        assert session.scalars(select(TombstoneRow)).all() == []
