"""Helpers shared by the gate tests: a borrower, a notice, consents, loan state, over the services."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from lendshield.consent import service as consent
from lendshield.loans import service as loans
from lendshield.principals import Principal
from lendshield.runtime import Runtime
from lendshield.subjects import service as subjects

ADULT = {
    "name": "王五",
    "resident_id": "11010519491231002X",
    "mobile": "13812345678",
    "email": "wang.wu@example.com",
    "address": "北京市朝阳区建国路88号",
    "bank_card": "6222020200112233446",
    "income": "12000",
    "employer": "合成数据有限公司",
    "device_imei": "490154203237518",
    "location": "39.9042,116.4074",
    "face_image_ref": "ref:face-0001",
    "relationship": "本人",
}
OFFICER = Principal(id="test-officer", name="test-officer", kind="staff", roles=frozenset({"protection_officer"}))
LOADER = Principal(id="test-loader", name="test-loader", kind="service", roles=frozenset({"loan_system"}))


def resident_id_born(born: date) -> str:
    """A valid synthetic resident ID (area 110105) for a birth date."""
    body = f"110105{born:%Y%m%d}001"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    check = "10X98765432"[sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11]
    return body + check


def borrower(rt: Runtime, **overrides: str) -> str:
    values = {k: v for k, v in (ADULT | overrides).items() if v}
    with rt.sessions() as session:
        sid, _ = subjects.create_subject(session, rt, LOADER, kind="borrower", fields=values, synthetic=True)
        session.commit()
    return sid


def notice(rt: Runtime) -> str:
    with rt.sessions() as session:
        version = consent.ensure_default_notice(session, rt, OFFICER).version
        session.commit()
    return version


def give(rt: Runtime, sid: str, purpose: str, kind: str = "purpose", action: str = "grant", **kw: object) -> None:
    version = kw.pop("notice_version", None) or notice(rt)
    with rt.sessions() as session:
        consent.record(session, rt, LOADER, sid, purpose=purpose, kind=kind, action=action, notice_version=str(version), **kw)  # type: ignore[arg-type]
        session.commit()


def loan(rt: Runtime, sid: str, loan_id: str = "L-1", *events: tuple[str, loans.LoanEvent]) -> None:
    with rt.sessions() as session:
        loans.upsert_loan(session, rt, LOADER, loan_id, borrower_id=sid, principal_amount=Decimal("5000"))
        for key, event in events:
            loans.apply_event(session, rt, LOADER, loan_id, key, event)
        session.commit()
