"""Deadlines over HTTP: 15 working days on the official calendar (国务院办公厅关于2026年部分节假日
安排的通知: Spring Festival 15-23 Feb 2026, work on Sat 14 and Sat 28 Feb), a deadline reaching
2027 (no official data yet: weekdays, flagged, operators alerted), extension, alerts before and
after the deadline, and the on-time rate."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from lendshield.cli import context
from lendshield.cli.main import app as cli_app
from lendshield.clock import FrozenClock
from lendshield.rights import alerts
from lendshield.runtime import Runtime
from tests.rights import support as s


def test_filed_before_the_spring_festival_on_the_local_date(rt: Runtime, client: TestClient, clock: FrozenClock) -> None:
    clock.set(datetime(2026, 2, 10, 2, 0, tzinfo=UTC))  # Tue 10 Feb, 10:00 in Beijing
    me = s.person(rt)
    req = s.file(client, me.headers, "access")
    assert req["due_on"] == "2026-03-09"
    assert req["deadline_estimated"] is False
    assert req["deadline_note"] is None
    # 17:00 UTC on Fri 13 Feb is already Sat 14 Feb in Beijing, the day of receipt: day 1 is Tue 24
    # Feb, day 5 Sat 28 Feb (worked), day 10 Fri 6 Mar. Counting from the UTC date would give 5 Mar.
    clock.set(datetime(2026, 2, 13, 17, 0, tzinfo=UTC))
    me = s.person(rt, mobile="13987654321")  # a fresh session: the first one has gone idle
    assert s.file(client, me.headers, "report", text="my number was sold")["due_on"] == "2026-03-06"


def test_a_deadline_in_2027_is_estimated_said_on_the_request_and_alerted(
    rt: Runtime, client: TestClient, make_actor: Any, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock.set(datetime(2026, 12, 15, 2, 0, tzinfo=UTC))
    me = s.person(rt)
    officer = make_actor("protection_officer")
    req = s.file(client, me.headers, "access")
    assert req["due_on"] == "2027-01-05"
    assert req["deadline_estimated"] is True
    assert "no official holiday data for 2027" in req["deadline_note"]
    assert client.get(f"/v1/rights/requests/{req['id']}", headers=me.headers).json()["deadline_estimated"] is True
    listed = client.get("/v1/rights/alerts", headers=officer.headers).json()
    assert [(a["kind"], a["request_id"]) for a in listed] == [("calendar_missing", req["id"])]
    assert "holidays.yaml" in listed[0]["message"]
    s.problem(client.get("/v1/rights/alerts", headers=make_actor("collector").headers), 403)
    monkeypatch.setattr(context, "runtime", lambda: rt)
    out = CliRunner().invoke(cli_app, ["rights", "alerts"])
    assert out.exit_code == 0, out.output
    assert f"calendar_missing {req['id']}" in out.output
    for bad in ("0", "-1", str(2**63), str(10**30), "x"):  # refused as bad input, never a 500 from the driver
        s.problem(client.post(f"/v1/rights/alerts/{bad}/acknowledge", headers=officer.headers), 422)
    ack = client.post(f"/v1/rights/alerts/{listed[0]['id']}/acknowledge", headers=officer.headers)
    assert ack.json()["acknowledged"] is True
    assert client.get("/v1/rights/alerts", headers=officer.headers).json() == []


def test_the_holiday_file_is_read_from_the_policies_directory(
    rt: Runtime, client: TestClient, clock: FrozenClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policies = tmp_path / "policies"
    policies.mkdir()
    for item in rt.settings.policies_dir.iterdir():
        (policies / item.name).write_bytes(item.read_bytes())
    (policies / "holidays.yaml").write_text(
        "years:\n  2027:\n    source: 国务院办公厅关于2027年部分节假日安排的通知\n    holidays: [2027-01-01]\n", encoding="utf-8"
    )
    rt.settings = rt.settings.model_copy(update={"policies_dir": policies})
    clock.set(datetime(2026, 12, 15, 2, 0, tzinfo=UTC))
    me = s.person(rt)
    req = s.file(client, me.headers, "access")
    assert req["due_on"] == "2027-01-06"
    assert req["deadline_estimated"] is False
    monkeypatch.setattr(context, "settings", lambda: rt.settings)
    out = CliRunner().invoke(cli_app, ["rights", "deadline", "2026-12-15"])
    assert out.exit_code == 0, out.output
    assert out.output.startswith("2027-01-06")
    bad = CliRunner().invoke(cli_app, ["rights", "deadline", "15/12/2026"])
    assert bad.exit_code == 2
    assert bad.output.strip() == "error: FILED must be a date YYYY-MM-DD"


def test_extension_alerts_and_on_time_rate(rt: Runtime, client: TestClient, make_actor: Any, clock: FrozenClock) -> None:
    me = s.person(rt)
    officer, clerk = make_actor("protection_officer"), make_actor("customer_service")
    late = s.file(client, me.headers, "access")  # filed Mon 23 Nov 2026 -> due Mon 14 Dec
    quick = s.file(client, me.headers, "restriction", text="please stop using my data for now")
    assert late["due_on"] == "2026-12-14"
    assert client.post(f"/v1/rights/requests/{quick['id']}/fulfil", json={}, headers=officer.headers).status_code == 200

    s.problem(
        client.post(f"/v1/rights/requests/{late['id']}/extend", json={"working_days": 5, "reason": "too short"}, headers=officer.headers),
        422,
    )
    body = {"working_days": 5, "reason": "the copy includes call recordings that must be collected"}
    s.problem(client.post(f"/v1/rights/requests/{late['id']}/extend", json=body, headers=clerk.headers), 403)
    extended = client.post(f"/v1/rights/requests/{late['id']}/extend", json=body, headers=officer.headers).json()
    assert extended["due_on"] == "2026-12-21"
    assert extended["original_due_on"] == "2026-12-14"
    assert extended["extension_reason"] == body["reason"]
    s.problem(client.post(f"/v1/rights/requests/{late['id']}/extend", json=body, headers=officer.headers), 409)

    with rt.sessions() as session:
        assert alerts.check_deadlines(session, rt) == []
        session.commit()
    clock.set(datetime(2026, 12, 16, 2, 0, tzinfo=UTC))  # Wed: 3 working days left
    assert alerts.deadline_alerts(rt) == 1
    assert alerts.deadline_alerts(rt) == 0  # once per deadline
    clock.set(datetime(2026, 12, 22, 2, 0, tzinfo=UTC))
    assert alerts.deadline_alerts(rt) == 1
    kinds = [a["kind"] for a in client.get("/v1/rights/alerts", headers=officer.headers).json()]
    assert kinds == ["due_soon", "overdue"]

    rate = client.get("/v1/rights/reports/on-time", params={"start": "2026-11-01", "end": "2026-11-30"}, headers=officer.headers).json()
    assert (rate["answered"], rate["on_time"], rate["open_overdue"], rate["rate"]) == (1, 1, 1, 1.0)
    assert client.post(f"/v1/rights/requests/{late['id']}/fulfil", json={}, headers=officer.headers).status_code == 200
    rate = client.get("/v1/rights/reports/on-time", params={"start": "2026-11-01", "end": "2026-11-30"}, headers=officer.headers).json()
    assert (rate["answered"], rate["on_time"], rate["late"], rate["rate"]) == (2, 1, 1, 0.5)
    s.problem(client.get("/v1/rights/reports/on-time", params={"start": "2026-12-01", "end": "2026-11-01"}, headers=officer.headers), 422)
    s.problem(client.get("/v1/rights/reports/on-time", params={"start": "2026-11-01", "end": "2026-11-30"}, headers=clerk.headers), 403)
