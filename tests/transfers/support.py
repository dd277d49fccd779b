"""Helpers for the transfers tests: synthetic borrowers with consents, recipients over HTTP."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from stdnum import luhn

from lendshield.consent import service as consent
from lendshield.ledger.models import LedgerEntryRow
from lendshield.runtime import Runtime
from lendshield.subjects import service as subjects
from tests.policy.gate_support import LOADER, notice, resident_id_born


def person(i: int) -> dict[str, str]:
    """Distinct, valid, synthetic values for person number ``i``."""
    card = f"62220202{i:010d}"
    return {
        "name": "测试" + "甲乙丙丁戊己庚辛壬癸"[i % 10] + "子丑寅卯辰巳午未申酉"[(i // 10) % 10],
        "resident_id": resident_id_born(date(1960, 1, 1) + timedelta(days=i)),
        "mobile": f"138{i:08d}",
        "email": f"person{i}@example.com",
        "address": f"北京市朝阳区建国路{i + 1}号",
        "bank_card": card + luhn.calc_check_digit(card),
        "income": str(5000 + i),
        "employer": f"合成数据{i}有限公司",
    }


def borrowers(rt: Runtime, start: int, count: int, grants: list[tuple[str, str]]) -> list[str]:
    """``count`` borrowers numbered from ``start``, each with the (purpose, kind) consents in ``grants``."""
    version = notice(rt)
    ids = []
    with rt.sessions() as session:
        for i in range(start, start + count):
            sid, _ = subjects.create_subject(session, rt, LOADER, kind="borrower", fields=person(i), synthetic=True)
            for purpose, kind in grants:
                consent.record(session, rt, LOADER, sid, purpose=purpose, kind=kind, action="grant", notice_version=version)
            ids.append(sid)
        session.commit()
    return ids


def recipient_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "示例营销合作有限公司",
        "kind": "third_party",
        "region": "CN",
        "contact": "privacy@partner.example",
        "purposes": ["marketing"],
        "categories": ["identity", "contact"],
        "contract_ref": "DPA-2026-017",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


ABROAD = {
    "name": "Overseas Support Pte. Ltd.",
    "kind": "entrusted_processor",
    "region": "SG",
    "contact": "dpo@support.example.sg",
    "purposes": ["overseas_support"],
    "categories": ["identity", "contact"],
    "contract_ref": "ENTRUST-2026-003",
    "mechanism": "standard_contract",
    "mechanism_evidence": "CAC filing 2026-SC-0042",
    "mechanism_valid_from": "2026-01-01",
    "mechanism_valid_until": "2027-12-31",
}


def make_recipient(client: TestClient, headers: dict[str, str], **overrides: Any) -> str:
    res = client.post("/v1/transfers/recipients", json=recipient_body(**overrides), headers=headers)
    assert res.status_code == 201, res.text
    return str(res.json()["id"])


def entries(rt: Runtime, action: str) -> list[LedgerEntryRow]:
    with rt.sessions() as session:
        return list(session.scalars(select(LedgerEntryRow).where(LedgerEntryRow.action == action).order_by(LedgerEntryRow.seq)))


def body(entry: LedgerEntryRow) -> dict[str, Any]:
    """The logged leaf of an entry (action, object, purpose, decision, rule id ...)."""
    out: dict[str, Any] = json.loads(entry.body)
    return out
