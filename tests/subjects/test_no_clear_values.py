"""No seeded personal value appears in clear anywhere in the SQLite database file or its WAL."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest
from sqlalchemy import select

from lendshield.cli.setup import initialise
from lendshield.demo.seed import seed_demo
from lendshield.principals import service as principals
from lendshield.settings import Settings
from lendshield.subjects import service
from lendshield.subjects.models import SubjectRow

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def forms(value: str) -> set[bytes]:
    """The value as stored after validation, and the other spellings someone might search for."""
    out = {value, unicodedata.normalize("NFKC", value)}
    digits = re.sub(r"\D", "", value)
    if len(digits) >= 6:
        out.add(digits)
        if digits.startswith("86") and len(digits) == 13:
            out.add(digits[2:])  # national mobile number
    if value.startswith("+"):
        out.add(value[1:])
    encoded = {v.encode() for v in out if len(v.encode()) >= 6}
    encoded |= {v.encode("utf-16-le") for v in out if len(v) >= 4}
    if not value.isascii():
        encoded |= {v.encode("gb18030") for v in out if len(v) >= 2}
    return encoded


def database_bytes(db: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (db, db.with_name(db.name + "-wal")) if p.exists())


def test_demo_seed_leaves_no_personal_value_in_clear(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, environment="test")
    rt, _ = initialise(settings)
    seed_demo(rt, borrowers=25)
    with rt.sessions() as session:
        officer = principals.create_principal(
            session, None, rt.catalog, name="dpo", kind="staff", roles=["protection_officer"], now=rt.clock.now()
        )
        session.commit()
    values: set[str] = set()
    with rt.sessions() as session:
        ids = list(session.scalars(select(SubjectRow.id)))
        for sid in ids:
            view = service.read_fields(session, rt, officer, sid, purpose="rights_request", reason="leak test", clear=True)
            values |= {f.value for n, f in view.fields.items() if n != "relationship"}
        session.commit()
    assert len(ids) == 50  # 25 borrowers and one emergency contact each
    assert len(values) > 150
    db = tmp_path / "lendshield.db"
    for stage in ("live, WAL present", "after checkpoint"):
        raw = database_bytes(db)
        assert b"demo-loan-system" in raw  # the scan sees clear text where clear text is stored
        leaks = sorted({v for v in values for form in forms(v) if form in raw})
        assert leaks == [], f"{stage}: {len(leaks)} personal values found in clear"
        rt.engine.dispose()


def test_own_synthetic_values_never_in_clear(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, environment="test")
    rt, _ = initialise(settings)
    fields = {
        "name": "欧阳测试",
        "resident_id": "11010519491231002x",
        "mobile": "+86 138-1234-5678",
        "email": "ouyang.test@example.org",
        "address": "广东省深圳市南山区科技园路1号",
        "bank_card": "6222 0202 0011 2233 446",
        "income": "12345.67",
        "employer": "合成数据有限公司",
        "device_imei": "490154203237518",
        "location": "22.543096,114.057865",
        "face_image_ref": "blob:sha256/feedface0123",
    }
    with rt.sessions() as session:
        writer = principals.create_principal(session, None, rt.catalog, name="w", kind="service", roles=["loan_system"], now=rt.clock.now())
        sid, _ = service.create_subject(session, rt, writer, kind="borrower", fields=fields)
        service.tokenize(session, rt, writer, sid, "mobile", purpose="loan_servicing")
        service.find_by(session, rt, writer, "resident_id", "11010519491231002X", purpose="loan_servicing")
        service.correct_field(session, rt, writer, sid, "mobile", "13900001111", reason="moved")
        session.commit()
    raw = database_bytes(tmp_path / "lendshield.db")
    normalised = {"11010519491231002X", "+8613812345678", "6222020200112233446", "13900001111", "+8613900001111", "12345.67", "22.543096"}
    leaks = sorted({v for v in (*fields.values(), *normalised) for form in forms(v) if form in raw})
    assert leaks == []
    rt.engine.dispose()
