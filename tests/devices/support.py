"""Shared by the device tests (and any test that enrols a phone): the device notice and the
borrower's consent to it, as the loan system records it from the app, and valid test IMEIs."""

from __future__ import annotations

from sqlalchemy.orm import Session
from stdnum import luhn

from lendshield.consent import service as consent
from lendshield.devices import notice
from lendshield.devices.service import DeviceRules
from lendshield.principals import Principal
from lendshield.runtime import Runtime

OFFICER = Principal(id="test-officer", name="test-officer", kind="staff", roles=frozenset({"protection_officer"}))
LOAN_SYSTEM = Principal(id="test-loan-system", name="test-loan-system", kind="service", roles=frozenset({"loan_system"}))
IMEI = "490154203237518"  # a valid IMEI (Luhn) from the GSMA's examples


def imei(n: int) -> str:
    """The n-th synthetic IMEI: 15 digits with a valid Luhn check digit."""
    body = f"35{n:012d}"
    return body + luhn.calc_check_digit(body)


def publish_device_notice(session: Session, rt: Runtime, rules: DeviceRules | None = None) -> str:
    return notice.ensure_published(session, rt, OFFICER, rules or DeviceRules()).version


def grant_device_consent(session: Session, rt: Runtime, subject_id: str, rules: DeviceRules | None = None) -> str:
    """Publish the current device notice if needed and record the borrower's grant to it."""
    version = publish_device_notice(session, rt, rules)
    consent.record(session, rt, LOAN_SYSTEM, subject_id, purpose=notice.PURPOSE, action="grant", notice_version=version, channel="app")
    return version


def withdraw_device_consent(session: Session, rt: Runtime, subject_id: str) -> None:
    consent.record(session, rt, LOAN_SYSTEM, subject_id, purpose=notice.PURPOSE, action="withdraw", channel="app")
