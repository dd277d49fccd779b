"""Password rules. The seed: 至少8个字符, 字母、数字和特殊字符, 避免利用与个人信息相关的密码."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lendshield.accounts.password_policy import BORROWER_RULES, STAFF_RULES, PersonalData, check_password
from lendshield.crypto.passwords import Argon2Params, PasswordHashing

PERSON = PersonalData(name="zhangwei", birth_date=date(1990, 3, 14), phone="+8613812345678", resident_id="11010519900314002X")


def test_strong_borrower_password_passes() -> None:
    assert check_password("Lantern-Orbit-93!", BORROWER_RULES, PERSON).ok


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("Ab1!xyz", "at least 8 characters"),
        ("lanternorbitriver", "at least 3 of"),
        ("Password123!", "too easy to guess"),
        ("Qx!19900314pl", "birth date"),
        ("Qx!5678waterfall", "phone number"),
        ("Qx!002Xwaterfall", "ID number"),
        ("Zhangwei!Tides42", "name"),
    ],
)
def test_borrower_password_refusals(password: str, problem: str) -> None:
    verdict = check_password(password, BORROWER_RULES, PERSON)
    assert not verdict.ok
    assert any(problem in p for p in verdict.problems), verdict.problems
    assert all(password not in p for p in verdict.problems)


def test_staff_need_twelve_characters() -> None:
    assert not check_password("Lantern-9!ab", STAFF_RULES.__class__(min_length=13)).ok
    assert not check_password("Lant-Orb-9!", STAFF_RULES).ok
    assert check_password("Lantern-Orbit-93!", STAFF_RULES).ok


@settings(max_examples=25, deadline=None)
@given(st.text(min_size=0, max_size=7))
def test_short_passwords_never_pass(password: str) -> None:
    assert not check_password(password, BORROWER_RULES).ok


def test_argon2id_hash_verify_and_rehash() -> None:
    weak = PasswordHashing(Argon2Params(time_cost=1, memory_kib=8192, parallelism=1))
    stored = weak.hash("Lantern-Orbit-93!")
    assert stored.startswith("$argon2id$")
    assert weak.verify(stored, "Lantern-Orbit-93!")
    assert not weak.verify(stored, "Lantern-Orbit-93?")
    assert not weak.verify("not-a-hash", "x")
    stronger = PasswordHashing(Argon2Params(time_cost=2, memory_kib=8192, parallelism=1))
    assert stronger.needs_rehash(stored)
    assert not weak.needs_rehash(stored)
