"""Canary subjects: synthetic people in the vault that no legitimate work touches.

Their values look real (GB 11643 check digit, a valid mainland mobile, a Luhn-valid UnionPay
card) so that a leaker cannot tell them apart. Any ledger entry about one is an alert (the
periodic job, ``engine``), and so is one of their values found by a scan (``report_scan_hits``).
The watch keeps only keyed digests of the values; the values themselves stay in the vault.
A drawn resident ID or mobile that anyone in the vault already has (a real borrower, a contact,
another canary) is drawn again: a canary must never be a real person, or a scan that found that
person's number would be reported as a canary leak. (Cards are checked too once the catalog
gives ``bank_card`` a blind index: ``transfers.canaries.checked``.)
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import PurePath

from faker import Faker
from sqlalchemy import select
from sqlalchemy.orm import Session
from stdnum import luhn
from stdnum.cn import ric

from lendshield import ledger
from lendshield.catalog import FieldInvalid
from lendshield.crypto import keyed_digest
from lendshield.errors import Forbidden, InvalidInput
from lendshield.principals import Principal
from lendshield.runtime import Runtime
from lendshield.subjects import service as subjects
from lendshield.transfers.canaries import checked, vault_lookup
from lendshield.watch import config
from lendshield.watch.alerts import Finding, record
from lendshield.watch.models import CanaryRow, CanaryValueRow

CANARY_VALUE_SECRET = "watch/canary-value"
KINDS = ("resident_id", "mobile", "bank_card")
MAX_PER_CALL = 200
MAX_DRAWS_PER_CANARY = 50
CREATOR_ROLES = frozenset({"protection_officer"})
# District codes (GB/T 2260) in use for every birth year drawn here, so the ID also passes a
# check of the area against the birth date, as a careful fraudster's tools would make.
_AREAS = ("110101", "110102", "110105", "110108", "120101", "310101", "310104", "310110")
# Prefixes long allocated to the three carriers (as the demo's), valid for phonenumbers.
_MOBILE_PREFIXES = ("130", "131", "132", "135", "136", "137", "138", "139", "150", "151", "152", "158", "159", "186", "187", "188")


@dataclass(frozen=True, slots=True)
class Canary:
    subject_id: str
    label: str
    created_at: datetime
    registered_seq: int


def value_digest(rt: Runtime, kind: str, normalised: str) -> bytes:
    return keyed_digest(rt.keys.secret(CANARY_VALUE_SECRET), kind, normalised)


def normalise(rt: Runtime, kind: str, raw: str) -> str | None:
    """The vault's normal form (ID upper-case, mobile E.164, card digits); None if not valid."""
    try:
        value, _ = rt.catalog.field(kind, kind).validate(raw, kind)
    except FieldInvalid:
        return None
    return value


def _resident_id(rng: random.Random, today: date) -> str:
    number = ""
    for _ in range(100):  # bounded: the vault accepts an area it does not know (only a warning)
        born = date(today.year - 60, 1, 1) + timedelta(days=rng.randrange(40 * 365))  # aged about 20 to 60
        body = f"{rng.choice(_AREAS)}{born:%Y%m%d}{rng.randrange(1000):03d}"
        number = body + ric.calc_check_digit(body + "0")
        if ric.is_valid(number):
            break
    return number


def _mobile(rng: random.Random) -> str:
    return rng.choice(_MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def _bank_card(rng: random.Random) -> str:
    body = "62" + f"{rng.randrange(10**13):013d}"  # UnionPay IIN range, 16 digits with the check
    return body + luhn.calc_check_digit(body)


def _values(rt: Runtime, rng: random.Random, fake: Faker) -> dict[str, str]:
    raw = {"resident_id": _resident_id(rng, rt.clock.now().date()), "mobile": _mobile(rng), "bank_card": _bank_card(rng)}
    out = {"name": fake.name(), "address": fake.address().rsplit(" ", 1)[0]}
    for kind, value in raw.items():
        clean = normalise(rt, kind, value)
        if clean is None:
            raise InvalidInput(f"generated {kind} failed validation")  # a bug in the generator, never input
        out[kind] = clean
    return out


def create_canaries(
    session: Session, rt: Runtime, who: Principal, count: int, *, label: str = "canary", rng: random.Random | None = None
) -> list[Canary]:
    """Create ``count`` canary subjects (kind ``canary``, marked synthetic) and register them.

    ``rng`` is for tests that need to know the draws; by default the draws are unguessable.
    """
    if not who.roles & CREATOR_ROLES:
        raise Forbidden("only the protection officer may create canaries")
    if not 1 <= count <= MAX_PER_CALL:
        raise InvalidInput(f"count must be between 1 and {MAX_PER_CALL}")
    label = label.strip()
    if not 1 <= len(label) <= 120 or not label.isprintable():
        raise InvalidInput("label must have 1 to 120 printable characters")
    # Not secret, but unguessable: a leaker must not be able to regenerate the canaries.
    rng = rng or random.Random(secrets.randbits(128))  # noqa: S311
    fake = Faker("zh_CN")
    fake.seed_instance(rng.getrandbits(64))
    taken = vault_lookup(session, rt)
    made: list[Canary] = []
    draws = 0
    while len(made) < count:
        draws += 1
        if draws > count * MAX_DRAWS_PER_CANARY:
            raise InvalidInput("could not draw canary values that nobody in the vault has")  # never expected
        values = _values(rt, rng, fake)
        digests = {kind: value_digest(rt, kind, values[kind]) for kind in KINDS}
        if session.scalar(select(CanaryValueRow.id).where(CanaryValueRow.digest.in_(list(digests.values())))) is not None:
            continue  # a value some canary already has: draw again
        if any(checked(rt.catalog, kind) and taken(kind, values[kind]) for kind in KINDS):
            continue  # a real person's resident ID or mobile: draw again
        subject_id, _ = subjects.create_subject(session, rt, who, kind="canary", fields=values, synthetic=True)
        ref = ledger.subject_ref(rt.keys, subject_id)
        seq = ledger.append(
            session,
            ledger.Entry(
                time=rt.clock.now(),
                actor=who.id,
                action="watch.canary.create",
                object=f"canary:{subject_id}",
                subject_ref=ref,
                details={"kinds": list(KINDS)},
            ),
        )
        session.add(
            CanaryRow(subject_id=subject_id, subject_ref=ref, label=label, registered_seq=seq, created_by=who.id, created_at=rt.clock.now())
        )
        session.flush()
        session.add_all(CanaryValueRow(canary_id=subject_id, kind=kind, digest=d) for kind, d in digests.items())
        made.append(Canary(subject_id, label, rt.clock.now(), seq))
    session.flush()
    return made


def list_canaries(session: Session, who: Principal) -> list[Canary]:
    if not who.roles & CREATOR_ROLES:
        raise Forbidden("only the protection officer may list canaries")
    rows = session.scalars(select(CanaryRow).order_by(CanaryRow.created_at, CanaryRow.subject_id))
    return [Canary(r.subject_id, r.label, r.created_at, r.registered_seq) for r in rows]


def canary_refs(session: Session) -> dict[str, tuple[str, int]]:
    """subject_ref -> (subject id, the sequence number that registered it)."""
    return {
        ref: (sid, seq) for ref, sid, seq in session.execute(select(CanaryRow.subject_ref, CanaryRow.subject_id, CanaryRow.registered_seq))
    }


def _source_name(source: str) -> str:
    # A file name is enough to find the file; a full path may name a person or this machine.
    if source.strip() == "-":
        return "(standard input)"
    name = PurePath(source.strip()).name or source.strip() or "(unnamed)"
    return "".join(ch if ch.isprintable() else "?" for ch in name)[:120]


MAX_LINES_SHOWN = 20
"""Line numbers kept per alert (the first ones): enough to find the copy in the file."""


def report_scan_hits(
    session: Session,
    rt: Runtime,
    hits: Iterable[tuple[str, str]],
    *,
    source: str,
    lines: Mapping[tuple[str, str], int] | None = None,
) -> int:
    """Raise a high-severity alert for each canary value among ``hits``; returns how many were raised.

    ``hits`` are ``(kind, normalised value)`` found in one file, ``source``, by the scanner; kind
    one of resident_id, mobile, bank_card (others are ignored). ``lines`` gives the line a hit
    was found on, where the scanner knows it. One alert per canary value, file and day: scanning
    the same file twice adds nothing, and a file elsewhere with the same name is another alert.
    The alert's evidence names the file (its name, not the path) and the lines; neither the
    value nor the file's content enters the alert.
    """
    rule = config.for_runtime(rt).rules.canary_scan_hit
    wanted: dict[bytes, tuple[str, set[int]]] = {}
    for kind, raw in hits:
        if kind not in KINDS or not isinstance(raw, str):
            continue
        value = normalise(rt, kind, raw)
        if value is None:
            continue
        _, seen_on = wanted.setdefault(value_digest(rt, kind, value), (kind, set()))
        line = (lines or {}).get((kind, raw))
        if isinstance(line, int) and line > 0:
            seen_on.add(line)
    if not wanted:
        return 0
    found: list[tuple[str, str, bytes]] = []
    digests = list(wanted)
    for start in range(0, len(digests), 500):
        chunk = digests[start : start + 500]
        found += [
            (cid, kind, bytes(digest))
            for cid, kind, digest in session.execute(
                select(CanaryValueRow.canary_id, CanaryValueRow.kind, CanaryValueRow.digest).where(CanaryValueRow.digest.in_(chunk))
            )
        ]
    name = _source_name(source)
    now = rt.clock.now()
    window = int(now.timestamp()) // (rule.window_minutes * 60)
    # Keyed over the whole path: two files of the same name are two alerts, the path stays out.
    source_tag = keyed_digest(rt.keys.secret(CANARY_VALUE_SECRET), "source", source.strip()).hex()[:16]
    raised = 0
    for canary_id, kind, digest in sorted(set(found)):
        at = sorted(wanted[digest][1])[:MAX_LINES_SHOWN]
        facts: dict[str, object] = {"source": name, "kind": kind, "canary": canary_id}
        if at:
            facts["lines"] = at
        finding = Finding(
            rule_id="canary-scan-hit",
            severity=rule.severity,
            actor="scanner",
            window_key=f"{window}:{canary_id}:{kind}:{source_tag}",
            title=f"canary value found by a scan of {name}" + (f", line {at[0]}" if at else ""),
            measure=1,
            threshold=1,
            first_seen=now,
            last_seen=now,
            facts=facts,
            subject_ref=ledger.subject_ref(rt.keys, canary_id),
        )
        raised += record(session, rt, finding)
    return raised
