"""The consent ledger against PIPL: each test names the article it proves."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from lendshield.clock import FrozenClock
from lendshield.consent import service as consent
from lendshield.consent.models import ConsentRow, NoticeRow
from lendshield.ledger.models import LedgerEntryRow
from lendshield.runtime import Runtime
from tests.conftest import START
from tests.policy import gate_support as gs


def _count(rt: Runtime, model: type[ConsentRow] | type[NoticeRow]) -> int:
    with rt.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _read(client: TestClient, headers: dict[str, str], sid: str, purpose: str, fields: list[str]) -> dict[str, object]:
    resp = client.post(f"/v1/subjects/{sid}/read", json={"fields": fields}, headers=headers | {"X-Purpose": purpose})
    return {"status": resp.status_code, **resp.json()}


def test_art13_contract_purpose_needs_no_consent(rt: Runtime, client: TestClient, make_actor) -> None:  # type: ignore[no-untyped-def]
    cs = make_actor("customer_service")
    sid = gs.borrower(rt)
    assert _read(client, cs.headers, sid, "loan_servicing", ["mobile"])["status"] == 200
    resp = client.post(
        f"/v1/subjects/{sid}/consents",
        json={"purpose": "loan_servicing", "action": "grant", "notice_version": gs.notice(rt)},
        headers=cs.headers,
    )
    assert resp.status_code == 422
    assert resp.json()["code"] == "consent-not-applicable"
    assert _count(rt, ConsentRow) == 0


def test_art13_14_consent_purpose_needs_grant(rt: Runtime, client: TestClient, make_actor) -> None:  # type: ignore[no-untyped-def]
    loader = make_actor("loan_system")
    sid = gs.borrower(rt)
    before = _read(client, loader.headers, sid, "credit_assessment", ["mobile"])
    assert before["status"] == 403
    assert "consent-missing:credit_assessment" in str(before)
    version = gs.notice(rt)
    resp = client.post(
        f"/v1/portal/subjects/{sid}/consents",
        json={"purpose": "credit_assessment", "action": "grant", "notice_version": version, "evidence": "click-123"},
        headers=loader.headers,
    )
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["channel"] == "app"
    assert len(body["evidence_sha256"]) == 64
    after = _read(client, loader.headers, sid, "credit_assessment", ["mobile"])
    assert after["status"] == 200


def test_art15_withdrawal_stops_processing_at_once(rt: Runtime, client: TestClient, make_actor) -> None:  # type: ignore[no-untyped-def]
    loader = make_actor("loan_system")
    sid = gs.borrower(rt)
    gs.give(rt, sid, "credit_assessment")
    assert _read(client, loader.headers, sid, "credit_assessment", ["name"])["status"] == 200
    resp = client.post(
        f"/v1/portal/subjects/{sid}/consents", json={"purpose": "credit_assessment", "action": "withdraw"}, headers=loader.headers
    )
    assert resp.status_code == 201, resp.text
    after = _read(client, loader.headers, sid, "credit_assessment", ["name"])
    assert after["status"] == 403
    assert "consent-withdrawn:credit_assessment" in str(after)
    with rt.sessions() as session:
        actions = session.scalars(select(LedgerEntryRow.action).where(LedgerEntryRow.action.like("consent.%"))).all()
    assert "consent.withdraw" in actions
    assert "consent.grant" in actions


def test_art15_withdrawing_a_consent_never_given_is_refused(rt: Runtime, client: TestClient, make_actor) -> None:  # type: ignore[no-untyped-def]
    loader = make_actor("loan_system")
    sid = gs.borrower(rt)
    gs.notice(rt)
    before = _count(rt, ConsentRow)
    resp = client.post(f"/v1/subjects/{sid}/consents", json={"purpose": "marketing", "action": "withdraw"}, headers=loader.headers)
    assert resp.status_code == 409
    assert resp.json()["code"] == "consent-not-given"
    assert resp.headers["content-type"] == "application/problem+json"
    assert _count(rt, ConsentRow) == before


def test_art14_old_consent_does_not_cover_fields_a_new_notice_added(rt: Runtime, make_actor) -> None:  # type: ignore[no-untyped-def]
    sid = gs.borrower(rt)
    draft = consent.default_draft(rt, "v-old")
    narrow = dict(draft.purpose_fields, credit_assessment=["name", "mobile"])
    with rt.sessions() as session:
        consent.publish_notice(session, rt, gs.OFFICER, consent.NoticeDraft("v-old", draft.sections, narrow))
        session.commit()
    gs.give(rt, sid, "credit_assessment", notice_version="v-old")
    gs.give(rt, sid, "credit_assessment", "sensitive", notice_version="v-old")
    from lendshield.subjects import service as subjects

    with rt.sessions() as session:
        view = subjects.read_fields(session, rt, gs.LOADER, sid, ["name", "income"], purpose="credit_assessment", reason=None, clear=False)
        session.commit()
    assert "name" in view.fields
    assert view.denied["income"].rule_id == "consent-stale-notice:credit_assessment"


def test_art16_refusing_optional_purpose_does_not_block_service(rt: Runtime, client: TestClient, make_actor) -> None:  # type: ignore[no-untyped-def]
    cs = make_actor("customer_service")
    sid = gs.borrower(rt)
    gs.give(rt, sid, "marketing", action="refuse")
    assert _read(client, cs.headers, sid, "marketing", ["mobile"])["status"] == 403
    assert _read(client, cs.headers, sid, "loan_servicing", ["mobile"])["status"] == 200
    notice = client.get(f"/v1/portal/subjects/{sid}/notice", headers=cs.headers).json()
    necessary = {p["id"]: p["necessary"] for p in notice["purposes"]}
    assert necessary["marketing"] is False
    assert necessary["loan_servicing"] is True


def test_art16_reprompt_after_refusal_is_capped(rt: Runtime, client: TestClient, make_actor, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
    cs = make_actor("customer_service")
    sid = gs.borrower(rt)
    version = gs.notice(rt)
    assert client.get(f"/v1/portal/subjects/{sid}/prompt", params={"purpose": "marketing"}, headers=cs.headers).json()["may_prompt"]
    gs.give(rt, sid, "marketing", action="refuse")
    body = {"purpose": "marketing", "action": "prompt", "notice_version": version}
    assert client.post(f"/v1/subjects/{sid}/consents", json=body, headers=cs.headers).status_code == 201  # limit 1
    assert not client.get(f"/v1/portal/subjects/{sid}/prompt", params={"purpose": "marketing"}, headers=cs.headers).json()["may_prompt"]
    again = client.post(f"/v1/subjects/{sid}/consents", json=body, headers=cs.headers)
    assert again.status_code == 429
    assert again.json()["code"] == "consent-prompt-limit"
    clock.advance(timedelta(days=rt.settings.consent_reprompt_window_days + 1))
    assert client.post(f"/v1/subjects/{sid}/consents", json=body, headers=cs.headers).status_code == 201


def test_art17_incomplete_notice_is_refused(rt: Runtime, client: TestClient, make_actor) -> None:  # type: ignore[no-untyped-def]
    officer = make_actor("protection_officer")
    draft = consent.default_draft(rt, "v-bad")
    sections = {k: dict(v) for k, v in draft.sections.items()}
    sections["retention"]["en"] = ""
    del sections["recipients"]
    resp = client.post(
        "/v1/notices", json={"version": "v-bad", "sections": sections, "purpose_fields": draft.purpose_fields}, headers=officer.headers
    )
    assert resp.status_code == 422
    assert resp.json()["code"] == "notice-incomplete"
    assert set(resp.json()["missing"]) == {"retention.en", "recipients.zh", "recipients.en"}
    assert _count(rt, NoticeRow) == 0


def test_art17_notice_text_is_stored_exactly_and_hashed(rt: Runtime, client: TestClient, make_actor) -> None:  # type: ignore[no-untyped-def]
    officer = make_actor("protection_officer")
    draft = consent.default_draft(rt, "v2")
    resp = client.post(
        "/v1/notices",
        json={"version": "v2", "sections": draft.sections, "purpose_fields": draft.purpose_fields},
        headers=officer.headers,
    )
    assert resp.status_code == 201, resp.text
    got = client.get("/v1/notices/v2", headers=officer.headers).json()
    digest = hashlib.sha256(got["text_zh"].encode() + b"\x00" + got["text_en"].encode()).hexdigest()
    assert got["sha256"] == digest
    assert draft.sections["processor"]["zh"] in got["text_zh"]
    assert draft.sections["rights"]["en"] in got["text_en"]
    dup = client.post(
        "/v1/notices", json={"version": "v2", "sections": draft.sections, "purpose_fields": draft.purpose_fields}, headers=officer.headers
    )
    assert dup.status_code == 409


def test_unknown_notice_version_and_unknown_purpose_change_nothing(rt: Runtime, client: TestClient, make_actor) -> None:  # type: ignore[no-untyped-def]
    cs = make_actor("customer_service")
    sid = gs.borrower(rt)
    gs.notice(rt)
    before = _count(rt, ConsentRow)
    v = client.post(
        f"/v1/subjects/{sid}/consents", json={"purpose": "marketing", "action": "grant", "notice_version": "v99"}, headers=cs.headers
    )
    assert v.status_code == 404
    assert v.json()["code"] == "unknown-notice"
    p = client.post(
        f"/v1/subjects/{sid}/consents", json={"purpose": "astrology", "action": "grant", "notice_version": "2026-11"}, headers=cs.headers
    )
    assert p.status_code == 404
    assert p.json()["code"] == "unknown-purpose"
    assert _count(rt, ConsentRow) == before


@pytest.mark.parametrize(
    ("purpose", "kind", "article"),
    [("marketing", "third_party", 23), ("testimonials", "public_disclosure", 25), ("overseas_support", "cross_border", 39)],
)
def test_art23_25_39_separate_consent_is_its_own_record(
    rt: Runtime, client: TestClient, make_actor, purpose: str, kind: str, article: int
) -> None:  # type: ignore[no-untyped-def]
    cs = make_actor("customer_service")
    sid = gs.borrower(rt)
    field = "name"
    gs.give(rt, sid, purpose)  # the purpose alone is not enough: never bundled
    denied = _read(client, cs.headers, sid, purpose, [field])
    assert denied["status"] == 403
    assert f"separate-consent-missing:{kind}" in str(denied)
    gs.give(rt, sid, purpose, kind)
    assert _read(client, cs.headers, sid, purpose, [field])["status"] == 200
    states = {(s["purpose"], s["kind"]): s["action"] for s in client.get(f"/v1/subjects/{sid}/consents", headers=cs.headers).json()}
    assert states == {(purpose, "purpose"): "grant", (purpose, kind): "grant"}
    gs.give(rt, sid, purpose, kind, action="withdraw")
    assert _read(client, cs.headers, sid, purpose, [field])["status"] == 403


def test_art23_separate_kind_must_apply_to_purpose(rt: Runtime, client: TestClient, make_actor) -> None:  # type: ignore[no-untyped-def]
    cs = make_actor("customer_service")
    sid = gs.borrower(rt)
    resp = client.post(
        f"/v1/subjects/{sid}/consents",
        json={"purpose": "credit_assessment", "kind": "cross_border", "action": "grant", "notice_version": gs.notice(rt)},
        headers=cs.headers,
    )
    assert resp.status_code == 422


def test_art29_sensitive_fields_need_separate_consent(rt: Runtime, client: TestClient, make_actor) -> None:  # type: ignore[no-untyped-def]
    risk = make_actor("risk_officer")
    sid = gs.borrower(rt)
    gs.give(rt, sid, "credit_assessment")
    view = _read(client, risk.headers, sid, "credit_assessment", ["name", "income", "bank_card"])
    assert view["status"] == 200
    assert set(view["fields"]) == {"name"}  # type: ignore[arg-type]
    assert view["denied"]["income"]["rule_id"] == "separate-consent-missing:sensitive"  # type: ignore[index]
    gs.give(rt, sid, "credit_assessment", "sensitive")
    view = _read(client, risk.headers, sid, "credit_assessment", ["name", "income", "bank_card"])
    assert set(view["fields"]) == {"name", "income", "bank_card"}  # type: ignore[arg-type]


def test_art31_under_14_needs_guardian_consent(rt: Runtime, client: TestClient, make_actor) -> None:  # type: ignore[no-untyped-def]
    cs = make_actor("customer_service")
    today = START.date()
    child = gs.borrower(rt, resident_id=gs.resident_id_born(date(today.year - 10, 1, 1)))
    teen = gs.borrower(rt, resident_id=gs.resident_id_born(date(today.year - 15, 1, 1)))
    version = gs.notice(rt)
    body = {"purpose": "marketing", "action": "grant", "notice_version": version}
    refused = client.post(f"/v1/subjects/{child}/consents", json=body, headers=cs.headers)
    assert refused.status_code == 403
    assert refused.json()["code"] == "guardian-required"
    assert "Art. 31" in refused.json()["detail"]
    assert "2016" not in refused.text
    assert gs.resident_id_born(date(today.year - 10, 1, 1)) not in refused.text
    by_guardian = client.post(f"/v1/subjects/{child}/consents", json=body | {"by_guardian": True}, headers=cs.headers)
    assert by_guardian.status_code == 201
    assert by_guardian.json()["by_guardian"] is True
    assert client.post(f"/v1/subjects/{teen}/consents", json=body, headers=cs.headers).status_code == 201


def test_ledger_entries_hold_no_personal_data(rt: Runtime, client: TestClient, make_actor) -> None:  # type: ignore[no-untyped-def]
    sid = gs.borrower(rt)
    gs.give(rt, sid, "marketing", evidence="signed by 王五 13812345678")
    with rt.sessions() as session:
        bodies = " ".join(session.scalars(select(LedgerEntryRow.body)).all())
    for value in gs.ADULT.values():
        assert value not in bodies
    assert sid not in bodies
