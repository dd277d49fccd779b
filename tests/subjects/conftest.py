"""Fixtures for service-level vault tests: valid synthetic values and a helper to store them."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from lendshield.principals import Principal
from lendshield.runtime import Runtime
from lendshield.subjects import service

BORROWER = {
    "name": "李四",
    "resident_id": "11010519491231002X",
    "mobile": "13812345678",
    "email": "li.si@example.com",
    "address": "广东省深圳市南山区科技园路1号",
    "bank_card": "6222020200112233446",
    "income": "12000",
    "employer": "合成数据有限公司",
    "device_imei": "490154203237518",
}


@pytest.fixture
def store(rt: Runtime) -> Callable[..., str]:
    """Create and commit a subject; returns its id."""

    def make(who: Principal, fields: dict[str, str] | None = None) -> str:
        with rt.sessions() as session:
            sid, _ = service.create_subject(session, rt, who, kind="borrower", fields=fields or BORROWER)
            session.commit()
        return sid

    return make


def count(rt: Runtime, model: type, *where: object) -> int:
    with rt.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)  # type: ignore[arg-type]
