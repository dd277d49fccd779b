"""The compliance report's figures, from the other domains' own tables (issue 10, item 5), and the
3-year keeping of reports with their impact-assessment drafts (PIPL Art. 56, REGULATION.md)."""

from __future__ import annotations

import datetime as dt
import io
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pypdf
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select
from sqlalchemy.exc import DatabaseError

from lendshield.collection.models import ContactRow
from lendshield.devices.models import CommandRow, DeviceRow
from lendshield.ledger.entry import rfc3339
from lendshield.loans.models import LoanEventRow, LoanRow
from lendshield.ops import reports, reports_pdf
from lendshield.ops.models import DrillRunRow, ReportRow
from lendshield.rights.models import RightsRequestRow
from lendshield.runtime import Runtime
from lendshield.subjects import service as subjects
from lendshield.transfers.models import RecipientRow, VolumeRow


def _request(sid: str, filed: dt.datetime, due: dt.date, answered: dt.datetime | None) -> RightsRequestRow:
    return RightsRequestRow(
        id=str(uuid.uuid4()),
        subject_id=sid,
        type="access",
        status="fulfilled" if answered else "open",
        channel="portal",
        filed_by=sid,
        filed_at=filed,
        jurisdiction="CN",
        due_on=due,
        original_due_on=due,
        deadline_estimated_years=[],
        params={},
        answered_at=answered,
    )


def _contact(sid: str, at: dt.datetime, outcome: str, rule: str | None) -> ContactRow:
    return ContactRow(
        id=str(uuid.uuid4()),
        loan_id="L-R",
        borrower_id=sid,
        target_id=sid,
        target_role="debtor",
        channel="call",
        collector_id="c-1",
        participants=[],
        preset="reminder",
        outcome=outcome,
        rule_id=rule,
        created_at=at,
    )


def _command(device: str, seq: int, command: str, at: dt.datetime, acked: dt.datetime | None) -> CommandRow:
    return CommandRow(
        device_id=device,
        seq=seq,
        command=command,
        token="t",
        issued_at=at,
        expires_at=at + timedelta(days=1),
        ledger_seq=seq,
        acked_at=acked,
    )


@pytest.fixture
def seeded(rt: Runtime, make_actor) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """A year of activity: requests, contacts, two lock episodes ended by payments, drills, transfers."""
    now = rt.clock.now()
    system = make_actor("loan_system")
    with rt.sessions() as session:
        sid, _ = subjects.create_subject(session, rt, system.principal, kind="borrower", fields={"name": "钱七"})
        session.add(
            LoanRow(
                id="L-R",
                borrower_id=sid,
                principal_amount=Decimal(2000),
                status="current",
                overdue_days=0,
                synthetic=True,
                created_at=now,
                updated_at=now,
            )
        )
        session.flush()
        session.add(DeviceRow(id="D-R", loan_id="L-R", borrower_id=sid, public_key=b"k" * 32, notice_version="v1", enrolled_at=now))
        session.flush()
        # Rights: 3 answered in the period (2 on time), 1 open and overdue; 1 filed the year before (out of the period).
        day = dt.datetime(2026, 3, 2, 2, tzinfo=dt.UTC)
        session.add_all(
            [
                _request(sid, day, dt.date(2026, 3, 20), day + timedelta(days=3)),
                _request(sid, day, dt.date(2026, 3, 20), day + timedelta(days=10)),
                _request(sid, day, dt.date(2026, 3, 20), day + timedelta(days=40)),
                _request(sid, day, dt.date(2026, 3, 20), None),
                _request(sid, dt.datetime(2025, 6, 1, tzinfo=dt.UTC), dt.date(2025, 6, 20), dt.datetime(2025, 8, 1, tzinfo=dt.UTC)),
            ]
        )
        # Collection: 5 attempts in the period, 3 blocked by two rules; one blocked attempt last year.
        session.add_all(
            [
                _contact(sid, day, "blocked", "quiet_hours"),
                _contact(sid, day, "blocked", "quiet_hours"),
                _contact(sid, day, "blocked", "daily_call_cap"),
                _contact(sid, day, "connected", None),
                _contact(sid, day, "sent", None),
                _contact(sid, dt.datetime(2025, 12, 31, tzinfo=dt.UTC), "blocked", "third_party_refused"),
            ]
        )
        # Devices: lock; payment; unlock acked 30 s after the payment. Lock again; payment; the first
        # unlock lapses unacknowledged, a re-issued one is acked 90 s after the payment.
        t0 = dt.datetime(2026, 5, 1, 2, tzinfo=dt.UTC)
        t1 = dt.datetime(2026, 6, 1, 2, tzinfo=dt.UTC)
        session.add_all(
            [
                LoanEventRow(
                    key="p1", loan_id="L-R", kind="payment", payload_sha256="0" * 64, payload={}, received_at=t0 + timedelta(hours=1)
                ),
                LoanEventRow(
                    key="p2", loan_id="L-R", kind="payment", payload_sha256="1" * 64, payload={}, received_at=t1 + timedelta(hours=1)
                ),
                _command("D-R", 1, "lock", t0, t0 + timedelta(seconds=5)),
                _command("D-R", 2, "unlock", t0 + timedelta(hours=1), t0 + timedelta(hours=1, seconds=30)),
                _command("D-R", 3, "remind", t0 + timedelta(days=2), None),
                _command("D-R", 4, "lock", t1, t1 + timedelta(seconds=5)),
                _command("D-R", 5, "unlock", t1 + timedelta(hours=1), None),
                _command("D-R", 6, "unlock", t1 + timedelta(hours=1, seconds=60), t1 + timedelta(hours=1, seconds=90)),
            ]
        )
        # Drills: a good one and a failed one.
        session.add_all(
            [
                DrillRunRow(
                    backup_name="b-1",
                    started_at=t0,
                    finished_at=t0 + timedelta(minutes=1),
                    ok=True,
                    summary={"checks": [["manifest", True]]},
                ),
                DrillRunRow(
                    backup_name="b-2",
                    started_at=t1,
                    finished_at=t1 + timedelta(minutes=1),
                    ok=False,
                    summary={"checks": [["manifest", True], ["ledger", False]]},
                ),
            ]
        )
        # Transfers: one recipient abroad, one at home; this year's volumes.
        for rid, region in (("R-SG", "SG"), ("R-CN", "CN")):
            session.add(
                RecipientRow(
                    id=rid,
                    name=f"Recipient {region}",
                    kind="entrusted_processor",
                    region=region,
                    contact="dpo@example.org",
                    purposes=["loan_servicing"],
                    categories=["identity"],
                    contract_ref="C-1",
                    mechanism="standard_contract" if region != "CN" else None,
                    mechanism_valid_until=dt.date(2027, 12, 31) if region != "CN" else None,
                    status="active",
                    created_at=now,
                    created_by="x",
                    updated_at=now,
                )
            )
        session.flush()
        session.add(VolumeRow(year=2026, people=120_000, sensitive_people=0))
        session.add(VolumeRow(year=2025, people=5, sensitive_people=5))
        session.commit()
    return {"officer": make_actor("protection_officer")}


def test_report_figures_come_from_each_domain(rt: Runtime, client: TestClient, seeded: dict[str, Any]) -> None:
    resp = client.get("/v1/reports/compliance?start=2026-01-01&end=2026-11-23", headers=seeded["officer"].headers)
    assert resp.status_code == 200, resp.text
    r = resp.json()
    assert r["period"] == {"start": "2026-01-01", "end": "2026-11-23"}
    assert r["rights"] == {"answered": 3, "on_time": 2, "late": 1, "open_overdue": 1, "on_time_rate": pytest.approx(2 / 3)}
    assert r["collection"] == {"attempts": 5, "blocked": 3, "blocked_by_rule": {"daily_call_cap": 1, "quiet_hours": 2}}
    assert r["devices"]["commands"] == {"lock": 2, "remind": 1, "unlock": 3}
    lat = r["devices"]["payment_to_unlock_seconds"]
    assert lat["count"] == 2
    assert lat["median"] == 60.0
    assert lat["max"] == 90.0
    assert lat["p95"] == pytest.approx(87.0)
    assert lat["not_acknowledged"] == 0
    assert r["drills"]["runs"] == 2
    assert r["drills"]["failed"] == 1
    assert r["drills"]["last_good"] == rfc3339(dt.datetime(2026, 5, 1, 2, 1, tzinfo=dt.UTC))
    assert r["drills"]["recent_failures"] == [
        {"backup": "b-2", "finished_at": rfc3339(dt.datetime(2026, 6, 1, 2, 1, tzinfo=dt.UTC)), "failed_checks": ["ledger"]}
    ]
    assert [x["name"] for x in r["transfers"]["recipients_abroad"]] == ["Recipient SG"]
    assert (r["transfers"]["year"], r["transfers"]["people_abroad"], r["transfers"]["required_tier"]) == (2026, 120_000, "standard")
    assert r["thresholds"]["protection_officer_threshold"] == 1_000_000
    assert r["thresholds"]["compliance_audit_threshold"] == 10_000_000
    assert r["thresholds"]["protection_officers_designated"] == 1
    assert r["thresholds"]["protection_officer_met"] is True

    # A period before the lock episodes sees none of them, and the year before's volumes.
    earlier = client.get("/v1/reports/compliance?start=2025-01-01&end=2025-12-31", headers=seeded["officer"].headers).json()
    assert earlier["devices"]["payment_to_unlock_seconds"]["count"] == 0
    assert earlier["collection"]["blocked_by_rule"] == {"third_party_refused": 1}
    assert (earlier["transfers"]["people_abroad"], earlier["transfers"]["required_tier"]) == (5, "standard")
    assert earlier["rights"]["answered"] == 1


def test_report_period_refuses_end_before_start(client: TestClient, make_actor) -> None:  # type: ignore[no-untyped-def]
    officer = make_actor("protection_officer")
    assert client.get("/v1/reports/compliance?start=2026-05-01&end=2026-04-01", headers=officer.headers).status_code == 422


def test_pdf_carries_the_figures(rt: Runtime, client: TestClient, seeded: dict[str, Any]) -> None:
    resp = client.get("/v1/reports/compliance?format=pdf&start=2026-01-01&end=2026-11-23", headers=seeded["officer"].headers)
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/pdf"
    assert resp.content.startswith(b"%PDF-")
    reader = pypdf.PdfReader(io.BytesIO(resp.content))
    assert len(reader.pages) >= 1
    text = "\n".join(page.extract_text() for page in reader.pages)
    for figure in ("On-time rate: 66.7%", "quiet_hours", "daily_call_cap", "Payment to unlock, median (s): 60", "p95 (s): 87",
                   "Recipient SG", "120000", "standard", "Last good: 2026-05-01T02:01:00", "1,000,000"):  # fmt: skip
        assert figure in text.replace("120,000", "120000"), figure


def test_pdf_without_a_cjk_font_is_english_and_says_so(rt: Runtime, make_actor) -> None:  # type: ignore[no-untyped-def]
    with rt.sessions() as session:
        report = reports.compliance_report(session, rt, make_actor("auditor").principal)
        session.commit()
    pdf = reports_pdf.to_pdf(report, cjk_font=None, font_candidates=[])
    assert pdf.startswith(b"%PDF-")
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    assert "English text only" in text
    assert "Record of processing activities" in text
    assert "贷" not in text


def test_pdf_with_a_cjk_font_carries_the_chinese_labels(rt: Runtime, make_actor) -> None:  # type: ignore[no-untyped-def]
    font = reports_pdf.find_cjk_font()
    if font is None:
        pytest.skip("no font with Chinese characters on this machine (CI installs fonts-wqy-zenhei)")
    with rt.sessions() as session:
        report = reports.compliance_report(session, rt, make_actor("auditor").principal)
        session.commit()
    pdf = reports_pdf.to_pdf(report, cjk_font=font)
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    assert "合规报告" in text
    assert report["record_of_processing"][0]["label_zh"] in text
    assert "English text only" not in text


def test_find_cjk_font_skips_files_without_chinese(tmp_path) -> None:  # type: ignore[no-untyped-def]
    fake = tmp_path / "not-a-font.ttf"
    fake.write_bytes(b"not a font")
    assert reports_pdf.find_cjk_font(fake, candidates=[tmp_path / "missing.ttc", fake]) is None


def test_reports_are_kept_three_years_pipl_art56(rt: Runtime, make_actor) -> None:  # type: ignore[no-untyped-def]
    """PIPL Art. 56 (REGULATION.md): the impact-assessment report and records kept >= 3 years.
    The database itself refuses to delete a report before its keep_until."""
    with rt.sessions() as session:
        report = reports.compliance_report(session, rt, make_actor("protection_officer").principal)
        session.commit()
    created = rt.clock.now()
    assert report["keep_until"] == rfc3339(dt.datetime(2029, 11, 23, 2, tzinfo=dt.UTC))
    assert reports.keep_until(dt.datetime(2028, 2, 29, tzinfo=dt.UTC)) == dt.datetime(2031, 3, 1, tzinfo=dt.UTC)
    with rt.sessions() as session:
        row = session.scalars(select(ReportRow)).one()
        assert row.keep_until >= created.replace(year=created.year + 3)
        assert row.body["impact_assessments"] == report["impact_assessments"]
        with pytest.raises(DatabaseError, match="keep_until"):
            session.execute(delete(ReportRow).where(ReportRow.id == row.id))
        session.rollback()
    # Once its time is over (here: a report made more than 3 years ago), it may go.
    with rt.sessions() as session:
        row = session.scalars(select(ReportRow)).one()
        row.keep_until = dt.datetime.now(dt.UTC) - timedelta(days=1)
        session.commit()
        session.execute(delete(ReportRow).where(ReportRow.id == row.id))
        session.commit()
        assert session.scalars(select(ReportRow)).first() is None


def test_html_carries_the_figures(client: TestClient, seeded: dict[str, Any]) -> None:
    html = client.get("/v1/reports/compliance?format=html&start=2026-01-01&end=2026-11-23", headers=seeded["officer"].headers).text
    assert html.startswith("<!doctype html>")
    for figure in ("on-time rate: 66.7%", "<td>quiet_hours</td><td>2</td>", "median 60.0; p95 87.0", "Recipient SG", "120000", "b-2"):
        assert figure in html, figure


def test_a_stored_report_is_served_as_it_was_in_every_form(rt: Runtime, client: TestClient, make_actor) -> None:  # type: ignore[no-untyped-def]
    officer, auditor = make_actor("protection_officer"), make_actor("auditor")
    made = client.get("/v1/reports/compliance", headers=officer.headers).json()
    with rt.sessions() as session:
        row = session.scalars(select(ReportRow)).one()
        report_id, digest = row.id, row.sha256
    again = client.get(f"/v1/reports/compliance/{report_id}", headers=auditor.headers)
    assert again.status_code == 200
    assert again.json() == made
    pdf = client.get(f"/v1/reports/compliance/{report_id}?format=pdf", headers=auditor.headers)
    assert pdf.content.startswith(b"%PDF-")
    assert digest[:12] in pdf.headers["content-disposition"]
    assert made["generated_at"][:10] in client.get(f"/v1/reports/compliance/{report_id}?format=html", headers=auditor.headers).text
    assert client.get("/v1/reports/compliance/999", headers=auditor.headers).status_code == 404
    assert client.get(f"/v1/reports/compliance/{report_id}", headers=make_actor("collector").headers).status_code == 403
