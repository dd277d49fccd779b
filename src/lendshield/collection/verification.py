"""Verification codes: every genuine message, call and visit carries one, and anyone contacted can
check it, so scammers posing as the lender's collectors are exposed (anti-impersonation).

A code is 8 characters of Crockford base32 (40 random bits), shown as ``K7P2-9QXM``. Only a keyed
digest is stored; checking is case-insensitive and ignores spaces and dashes, and reads O as 0
and I/L as 1, as Crockford's alphabet intends.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from lendshield import ledger
from lendshield.crypto import keyed_digest
from lendshield.principals import Principal
from lendshield.runtime import Runtime

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
SECRET = "collection/verification-codes"
_CLEAN = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SHAPE = re.compile(r"^[0-9A-Z]{8}$")


def new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


def normalise(code: str) -> str | None:
    clean = re.sub(r"[\s\-]", "", code.upper()).translate(_CLEAN)
    if not _SHAPE.match(clean) or any(c not in ALPHABET for c in clean):
        return None
    return clean


def digest(rt: Runtime, code: str) -> bytes:
    clean = normalise(code)
    assert clean is not None, "codes made by new_code always normalise"
    return keyed_digest(rt.keys.secret(SECRET), clean)


def with_code(text: str, code: str) -> str:
    """The message as sent: the collector's text and the code with where to check it."""
    return f"{text.rstrip()}【核验码 {code}，可在贷款方官网或App核实】[Verify: {code}]"


@dataclass(frozen=True, slots=True)
class Verified:
    genuine: bool
    channel: str | None = None
    at: datetime | None = None
    collector: str | None = None
    outcome: str | None = None


def check(session: Session, rt: Runtime, who: Principal, code: str) -> Verified:
    """Did a contact with this code really come from the lender? Every check is logged."""
    from lendshield.collection.models import ContactRow
    from lendshield.collection.service import rules
    from lendshield.principals.models import PrincipalRow

    clean = normalise(code) if len(code) <= 32 else None
    row = None
    if clean is not None:
        row = session.scalar(select(ContactRow).where(ContactRow.code_digest == keyed_digest(rt.keys.secret(SECRET), clean)))
    now = rt.clock.now()
    max_age = timedelta(days=rules(rt).common.verification_code_days)
    genuine = row is not None and now - row.created_at <= max_age
    ledger.append(
        session,
        ledger.Entry(
            time=now,
            actor=who.id,
            action="collection.verify_code",
            object=f"contact:{row.id}" if row is not None and genuine else "contact:unknown",
            subject_ref=ledger.subject_ref(rt.keys, row.borrower_id) if row is not None and genuine else None,
            decision="genuine" if genuine else "unknown",
        ),
    )
    if row is None or not genuine:
        return Verified(genuine=False)
    collector = session.scalar(select(PrincipalRow.name).where(PrincipalRow.id == row.collector_id)) or "unknown"
    return Verified(genuine=True, channel=row.channel, at=row.created_at, collector=collector, outcome=row.outcome)
