"""Synthetic demo data: borrowers (Faker zh_CN), their emergency contacts, loans and demo staff.

Every subject made here is marked ``synthetic``; none is a real person.
"""

from __future__ import annotations

import random
from decimal import Decimal

from faker import Faker
from rich.console import Console
from rich.progress import Progress
from sqlalchemy import func, select
from stdnum import luhn

from lendshield.consent import service as consent
from lendshield.devices import notice as device_notice
from lendshield.devices.service import DeviceRules
from lendshield.loans.models import LoanDeviceRow, LoanRow
from lendshield.principals import Principal
from lendshield.principals import service as principals
from lendshield.principals.models import PrincipalRow
from lendshield.runtime import Runtime
from lendshield.subjects import service as subjects

DEMO_STAFF = {
    "demo-collector": ["collector"],
    "demo-supervisor": ["collection_supervisor"],
    "demo-risk": ["risk_officer"],
    "demo-service": ["customer_service"],
    "demo-officer": ["protection_officer"],
    "demo-device": ["device_operator"],
    "demo-auditor": ["auditor"],
    "demo-loan-system": ["loan_system"],
}


def unionpay_card(rng: random.Random) -> str:
    body = "62" + "".join(str(rng.randrange(10)) for _ in range(15))
    return body + luhn.calc_check_digit(body)


# Mainland mobile prefixes long allocated to the three carriers. Faker's own list includes
# ranges (such as 149) that phonenumbers does not accept as valid, which made the demo flaky.
MOBILE_PREFIXES = ("130", "131", "132", "135", "136", "137", "138", "139", "150", "151", "152", "158", "159", "186", "187", "188")


def mobile(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + "".join(str(rng.randrange(10)) for _ in range(8))


def imei(rng: random.Random) -> str:
    body = "35" + "".join(str(rng.randrange(10)) for _ in range(12))
    return body + luhn.calc_check_digit(body)


def _staff(session: object, rt: Runtime) -> dict[str, Principal]:
    from sqlalchemy.orm import Session

    assert isinstance(session, Session)
    out = {}
    for name, roles in DEMO_STAFF.items():
        row = session.scalar(select(PrincipalRow).where(PrincipalRow.name == name))
        if row is None:
            out[name] = principals.create_principal(session, None, rt.catalog, name=name, kind="staff", roles=roles, now=rt.clock.now())
        else:
            out[name] = principals.get_principal(session, row.id)
    return out


def seed_demo(rt: Runtime, *, borrowers: int = 1000, seed: int = 20261122, progress: Console | None = None) -> int:
    with rt.sessions() as session:
        # Run again on a seeded database, the same seed would draw the same loan numbers: start
        # from where the borrowers already seeded leave off, so each run adds new people.
        seed += session.scalar(select(func.count()).select_from(LoanRow).where(LoanRow.synthetic.is_(True))) or 0
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    with rt.sessions() as session:
        staff = _staff(session, rt)
        # The device notice (every remote action on a financed phone and when), published first so
        # that the general notice below stays the newest, the one the portal shows.
        device_version = device_notice.ensure_published(session, rt, staff["demo-officer"], DeviceRules()).version
        # The gate needs a legal basis: publish the notice borrowers consent to (PIPL Art. 17).
        notice = consent.ensure_default_notice(session, rt, staff["demo-officer"]).version
        session.commit()
    loader = staff["demo-loan-system"]
    collector = staff["demo-collector"]
    made = 0
    with Progress(console=progress or Console(stderr=True), transient=True) as bar:
        task = bar.add_task("seeding synthetic borrowers", total=borrowers)
        for start in range(0, borrowers, 100):
            with rt.sessions() as session:
                for _ in range(min(100, borrowers - start)):
                    fields = {
                        "name": fake.name(),
                        "resident_id": fake.ssn(min_age=18, max_age=65),  # type: ignore[call-arg]
                        "mobile": mobile(rng),
                        "address": fake.address().rsplit(" ", 1)[0],
                        "bank_card": unionpay_card(rng),
                        "income": str(rng.randrange(3000, 40000)),
                        "employer": fake.company(),
                        "device_imei": imei(rng),
                    }
                    contact = subjects.NewContact(
                        relation=rng.choice(["配偶", "父母", "同事", "朋友"]), fields={"name": fake.name(), "mobile": mobile(rng)}
                    )
                    sid, _ = subjects.create_subject(
                        session, rt, loader, kind="borrower", fields=fields, contacts=[contact], synthetic=True
                    )
                    # Consents as a borrower gives them in the app: the necessary consent-based purposes with
                    # their separate consent for sensitive data (PIPL Art. 29); marketing is optional (Art. 16).
                    grants = [("credit_assessment", "purpose"), ("credit_assessment", "sensitive")]
                    grants += [("device_management", "purpose")]
                    marketing = rng.random()
                    if marketing < 0.4:
                        grants += [("marketing", "purpose"), ("marketing", "third_party")]
                    for purpose, kind in grants:
                        consent.record(
                            session, rt, loader, sid, purpose=purpose, kind=kind, action="grant", notice_version=notice, channel="app"
                        )
                    if marketing > 0.8:
                        consent.record(session, rt, loader, sid, purpose="marketing", action="refuse", notice_version=notice, channel="app")
                    overdue = rng.choice([0, 0, 0, 0, 3, 15, 35, 70, 120])
                    loan_id = f"DEMO-{fake.unique.numerify('########')}"
                    while session.get(LoanRow, loan_id) is not None:  # drawn by an earlier run
                        loan_id = f"DEMO-{fake.unique.numerify('########')}"
                    session.add(
                        LoanRow(
                            id=loan_id,
                            borrower_id=sid,
                            principal_amount=Decimal(rng.randrange(1000, 50000)),
                            status="overdue" if overdue else "current",
                            overdue_days=overdue,
                            assigned_collector_id=collector.id if overdue else None,
                            synthetic=True,
                            created_at=rt.clock.now(),
                            updated_at=rt.clock.now(),
                        )
                    )
                    if rng.random() < 0.3:
                        session.flush()
                        session.add(LoanDeviceRow(loan_id=loan_id, asset_id=f"ASSET-{loan_id[5:]}", financed_at=rt.clock.now()))
                        # A financed phone is enrolled only with consent to the device notice, given in the app.
                        consent.record(
                            session,
                            rt,
                            loader,
                            sid,
                            purpose=device_notice.PURPOSE,
                            action="grant",
                            notice_version=device_version,
                            channel="app",
                        )
                    made += 1
                session.commit()
            bar.advance(task, min(100, borrowers - start))
    return made
