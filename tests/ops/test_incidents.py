"""Incidents (PIPL Art. 57): affected people from the ledger, notices with the required contents."""

from __future__ import annotations

from datetime import timedelta

import pytest

from lendshield.errors import Forbidden
from lendshield.ledger import subject_ref
from lendshield.ledger.entry import rfc3339
from lendshield.ops import incidents
from lendshield.runtime import Runtime
from lendshield.subjects import service as subjects

FACTS = incidents.IncidentFacts(
    title="Collector account misused",
    cause="a collector's API token was used from an unknown network",
    harm="masked phone numbers and names may be used for nuisance calls",
    remedies="token revoked, accounts reviewed",
    advice="ignore calls asking for payment outside the official app",
    contact="dpo@lender.example / 400-000-0000",
)


def _read(rt: Runtime, who, sid: str, fields: list[str]) -> None:  # type: ignore[no-untyped-def]
    with rt.sessions() as session:
        subjects.read_fields(session, rt, who, sid, fields, purpose="loan_servicing", reason=None)
        session.commit()


def test_pipl_art57_affected_people_and_notices(rt: Runtime, make_actor) -> None:  # type: ignore[no-untyped-def]
    writer = make_actor("loan_system")
    reader = make_actor("customer_service")
    bystander = make_actor("customer_service")
    officer = make_actor("protection_officer")
    with rt.sessions() as session:
        a, _ = subjects.create_subject(session, rt, writer.principal, kind="borrower", fields={"name": "张三", "mobile": "13812345678"})
        b, _ = subjects.create_subject(session, rt, writer.principal, kind="borrower", fields={"name": "李四", "mobile": "13912345678"})
        c, _ = subjects.create_subject(session, rt, writer.principal, kind="borrower", fields={"name": "王五", "mobile": "13712345678"})
        session.commit()
    start = rt.clock.now()
    _read(rt, reader.principal, a, ["name", "mobile"])
    _read(rt, reader.principal, b, ["name"])
    _read(rt, bystander.principal, c, ["mobile"])  # someone else's work: not in scope
    rt.clock.advance(timedelta(hours=2))  # type: ignore[attr-defined]
    _read(rt, reader.principal, c, ["name"])  # after the window: not in scope

    with rt.sessions() as session:
        incident = incidents.open_incident(session, rt, officer.principal, FACTS)
        affected = incidents.find_affected_from_ledger(
            session, rt, officer.principal, incident, start=start, end=start + timedelta(hours=1), actor=reader.principal.id
        )
        drafts = incidents.draft_notices(session, rt, officer.principal, incident)
        session.commit()
    assert affected == 2
    refs = {p["subject_ref"] for p in drafts["people"]}
    assert refs == {subject_ref(rt.keys, a), subject_ref(rt.keys, b)}
    by_ref = {p["subject_ref"]: p for p in drafts["people"]}
    assert by_ref[subject_ref(rt.keys, a)]["categories"] == ["contact", "identity"]
    for text in (drafts["regulator"]["zh"], drafts["regulator"]["en"], by_ref[subject_ref(rt.keys, a)]["zh"]):
        for required in (FACTS.cause, FACTS.harm, FACTS.remedies, FACTS.advice, FACTS.contact):
            assert required in text
    assert "联系方式" in drafts["regulator"]["zh"]
    assert "13812345678" not in str(drafts)  # notices name categories, never the values

    with rt.sessions() as session:
        incidents.mark_notified(session, rt, officer.principal, incident, subject_ref=None, channel="cac-portal")
        incidents.mark_notified(session, rt, officer.principal, incident, subject_ref=subject_ref(rt.keys, a), channel="sms")
        again = incidents.draft_notices(session, rt, officer.principal, incident)
        session.commit()
    notified = {p["subject_ref"]: (p["notified_at"], p["channel"]) for p in again["people"]}
    assert notified[subject_ref(rt.keys, a)] == (rfc3339(rt.clock.now()), "sms")
    assert notified[subject_ref(rt.keys, b)] == (None, None)
    assert again["regulator"]["notified_at"] == rfc3339(rt.clock.now())
    assert again["regulator"]["channel"] == "cac-portal"
    with rt.sessions() as session:
        summary = incidents.get_incident(session, rt, officer.principal, incident)
    assert summary["affected"] == 2
    assert summary["people_notified"] == 1
    assert summary["regulator_channel"] == "cac-portal"
    assert summary["cause"] == FACTS.cause


@pytest.mark.parametrize("role", ["customer_service", "collector", "admin", "auditor", "risk_officer"])
def test_only_the_protection_officer_handles_incidents(rt: Runtime, make_actor, role: str) -> None:  # type: ignore[no-untyped-def]
    actor = make_actor(role)
    officer = make_actor("protection_officer")
    with rt.sessions() as session:
        incident = incidents.open_incident(session, rt, officer.principal, FACTS)
        session.commit()
    with rt.sessions() as session, pytest.raises(Forbidden):
        incidents.open_incident(session, rt, actor.principal, FACTS)
    with rt.sessions() as session, pytest.raises(Forbidden):
        incidents.list_incidents(session, rt, actor.principal)
    with rt.sessions() as session, pytest.raises(Forbidden):
        incidents.get_incident(session, rt, actor.principal, incident)
    with rt.sessions() as session, pytest.raises(Forbidden):
        incidents.draft_notices(session, rt, actor.principal, incident)
    with rt.sessions() as session, pytest.raises(Forbidden):
        incidents.mark_notified(session, rt, actor.principal, incident, subject_ref=None, channel="cac")


def test_incident_endpoints_over_http(client, make_actor) -> None:  # type: ignore[no-untyped-def]
    officer = make_actor("protection_officer")
    collector = make_actor("collector")
    body = {k: getattr(FACTS, k) for k in ("title", "cause", "harm", "remedies", "advice", "contact")}
    denied = client.post("/v1/incidents", json=body, headers=collector.headers)
    assert denied.status_code == 403
    assert denied.headers["content-type"] == "application/problem+json"
    missing = client.post("/v1/incidents", json=body | {"cause": ""}, headers=officer.headers)
    assert missing.status_code == 422
    made = client.post("/v1/incidents", json=body, headers=officer.headers)
    assert made.status_code == 201
    iid = made.json()["id"]
    scoped = client.post(
        f"/v1/incidents/{iid}/scope", json={"start": "2026-11-01T00:00:00Z", "end": "2026-11-30T00:00:00Z"}, headers=officer.headers
    )
    assert scoped.status_code == 200
    affected = scoped.json()["affected"]
    for naive in ({"start": "2026-11-01T00:00:00", "end": "2026-11-30T00:00:00Z"}, {"start": "2026-11-01T00:00:00Z", "end": "2026-11-30"}):
        # A window without a time zone is ambiguous (whose midnight?): refused, not guessed.
        refused = client.post(f"/v1/incidents/{iid}/scope", json=naive, headers=officer.headers)
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert "timezone" in refused.json()["detail"]
    again = client.post(
        f"/v1/incidents/{iid}/scope",
        json={"start": "2026-11-01T08:00:00+08:00", "end": "2026-11-30T08:00:00+08:00"},
        headers=officer.headers,
    )
    assert again.json()["affected"] == affected  # the same window written in China's time
    notices = client.get(f"/v1/incidents/{iid}/notices", headers=officer.headers)
    assert FACTS.contact in notices.json()["regulator"]["en"]
    assert client.get(f"/v1/incidents/{iid}/notices", headers=collector.headers).status_code == 403
    assert client.post(f"/v1/incidents/{iid}/notified", json={"channel": "cac"}, headers=officer.headers).status_code == 204
    assert client.post(f"/v1/incidents/{iid}/notified", json={"channel": "cac"}, headers=officer.headers).status_code == 409
    unknown = "00000000-0000-0000-0000-000000000000"
    assert client.get(f"/v1/incidents/{unknown}/notices", headers=officer.headers).status_code == 404

    # What was sent and when, per incident and across them (newest first).
    second = client.post("/v1/incidents", json=body | {"title": "第二起"}, headers=officer.headers).json()["id"]
    one = client.get(f"/v1/incidents/{iid}", headers=officer.headers)
    assert one.status_code == 200
    assert one.json()["regulator_channel"] == "cac"
    assert one.json()["regulator_notified_at"].endswith("Z")
    assert one.json()["contact"] == FACTS.contact
    assert one.json()["affected"] == affected
    listed = client.get("/v1/incidents", headers=officer.headers)
    assert listed.status_code == 200
    assert {i["id"] for i in listed.json()} == {iid, second}
    assert next(i for i in listed.json() if i["id"] == second)["regulator_notified_at"] is None
    assert [i["id"] for i in client.get("/v1/incidents?limit=1", headers=officer.headers).json()] in ([iid], [second])
    assert client.get("/v1/incidents?limit=0", headers=officer.headers).status_code == 422
    assert client.get(f"/v1/incidents/{unknown}", headers=officer.headers).status_code == 404
    for path in ("/v1/incidents", f"/v1/incidents/{iid}"):
        denied_get = client.get(path, headers=collector.headers)
        assert denied_get.status_code == 403
        assert denied_get.headers["content-type"] == "application/problem+json"
    assert client.get("/v1/incidents").status_code == 401


def test_an_unsent_regulator_notice_alerts_once_past_the_internal_deadline(rt: Runtime, make_actor, client) -> None:  # type: ignore[no-untyped-def]
    """REGULATION.md: PIPL Art. 57 sets no hours, so LendShield keeps an internal deadline
    (``incident_notice_hours``, 72 by default): past it, one alert (ledger entry, error log), the
    console and /metrics show the incident as overdue until the regulator is notified."""
    from sqlalchemy import func, select

    from lendshield.ledger.models import LedgerEntryRow
    from lendshield.ops import jobs as ops_jobs
    from lendshield.ops import queue

    queue.load_handler_modules(list(ops_jobs.BUILTIN_JOB_MODULES))
    officer = make_actor("protection_officer")
    with rt.sessions() as session:
        incident = incidents.open_incident(session, rt, officer.principal, FACTS)
        session.commit()

    def alerts() -> int:
        with rt.sessions() as session:
            query = select(func.count()).select_from(LedgerEntryRow).where(LedgerEntryRow.action == "incident.notice_overdue")
            return int(session.scalar(query) or 0)

    def overdue_gauge() -> str:
        line = next(x for x in client.get("/metrics").text.splitlines() if x.startswith("lendshield_incident_notices_overdue "))
        return line.split()[1]

    def check() -> dict[str, object]:
        with rt.sessions() as session:
            ops_jobs.incident_sla(session, rt, {})
            session.commit()
            return incidents.get_incident(session, rt, officer.principal, incident)

    rt.clock.advance(timedelta(hours=rt.settings.incident_notice_hours - 1))  # type: ignore[attr-defined]
    summary = check()
    assert summary["regulator_notice_overdue"] is False
    assert alerts() == 0
    assert overdue_gauge() == "0.0"
    rt.clock.advance(timedelta(hours=1, seconds=1))  # type: ignore[attr-defined]
    summary = check()
    assert summary["regulator_notice_overdue"] is True
    assert alerts() == 1
    assert overdue_gauge() == "1.0"
    rt.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
    check()
    assert alerts() == 1  # once per incident, not every hour
    listed = client.get("/v1/incidents", headers=officer.headers).json()
    assert listed[0]["regulator_notice_overdue"] is True
    with rt.sessions() as session:
        incidents.mark_notified(session, rt, officer.principal, incident, subject_ref=None, channel="cac-portal")
        session.commit()
    assert check()["regulator_notice_overdue"] is False
    assert overdue_gauge() == "0.0"
