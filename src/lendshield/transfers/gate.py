"""The provision gate: every condition a provision to a recipient must meet before anything is read.

Checked for every person and reported together, each failed condition with the number of people
it fails for: the registered recipient (PIPL Arts. 21, 23), the purpose registered for it, the
field categories registered for it, the legal mechanism abroad and its dates (Art. 38), each
person's separate consents (Art. 23 third party, Art. 39 cross-border; not needed where the
purpose rests on another legal basis, Art. 13(2)-(7)), and the yearly cross-border volume.
The fields themselves are then read through the vault's gate (policy and the purpose's consent).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from lendshield.consent.models import ConsentRow
from lendshield.errors import LendShieldError
from lendshield.policy import Purpose
from lendshield.runtime import Runtime
from lendshield.subjects import service as subjects
from lendshield.transfers import config, thresholds
from lendshield.transfers.errors import GateFailure
from lendshield.transfers.models import RecipientRow, VolumePersonRow, VolumeRow

# The 2024 rules count from 1 January; the year and the validity dates are those of mainland China.
LEGAL_TZ = ZoneInfo("Asia/Shanghai")
TIER_NAMES = {"exempt": "no filing", "standard": "a standard contract or certification", "assessment": "a CAC security assessment"}
_CHUNK = 500


@dataclass(slots=True)
class VolumePlan:
    year: int
    new_people: list[str] = field(default_factory=list)
    new_sensitive: list[str] = field(default_factory=list)
    people_after: int = 0
    sensitive_after: int = 0
    tier: str = "exempt"


@dataclass(slots=True)
class GateResult:
    failures: list[GateFailure]
    abroad: bool
    volume: VolumePlan | None


def legal_today(rt: Runtime) -> date:
    return rt.clock.now().astimezone(LEGAL_TZ).date()


def _chunks(items: Sequence[str]) -> list[Sequence[str]]:
    return [items[i : i + _CHUNK] for i in range(0, len(items), _CHUNK)]


def granted(session: Session, subject_ids: Sequence[str], purpose: str, kind: str) -> set[str]:
    """Who of ``subject_ids`` has a standing grant of ``kind`` for ``purpose`` (the latest decision is a grant)."""
    latest: dict[str, str] = {}
    for chunk in _chunks(subject_ids):
        rows = session.execute(
            select(ConsentRow.subject_id, ConsentRow.action)
            .where(ConsentRow.subject_id.in_(chunk), ConsentRow.purpose == purpose, ConsentRow.kind == kind, ConsentRow.action != "prompt")
            .order_by(ConsentRow.id)
        )
        for sid, action in rows:
            latest[sid] = action
    return {sid for sid, action in latest.items() if action == "grant"}


def _plural(n: int) -> str:
    return "person" if n == 1 else "people"


def _consents(
    session: Session, rt: Runtime, purpose: Purpose, recipient: RecipientRow, abroad: bool, people: Sequence[str], fields: Sequence[str]
) -> list[GateFailure]:
    if not purpose.needs_consent:
        return []  # PIPL Art. 13(2)-(7): another legal basis, no consent (and no separate consent) needed
    out = []
    # Checked here too, before any read, so that the answer counts people instead of refused reads.
    basic = [("purpose", "PIPL Arts. 13-14")]
    if any(rt.catalog.fields[f].sensitive for f in fields if f in purpose.fields):
        basic.append(("sensitive", "PIPL Art. 29"))
    for kind, article in basic:
        missing = len(people) - len(granted(session, people, purpose.id, kind))
        if missing:
            label = "consent" if kind == "purpose" else "separate 'sensitive' consent"
            out.append(GateFailure(f"consent_missing:{kind}", missing, f"no {label} for '{purpose.id}' ({article})"))
    kinds = []
    if recipient.kind == "third_party":
        kinds.append(("third_party", "PIPL Art. 23"))  # an entrusted processor acts for us (Art. 21): no consent of its own
    if abroad:
        kinds.append(("cross_border", "PIPL Art. 39"))
    for kind, article in kinds:
        if kind not in purpose.separate:
            out.append(
                GateFailure(
                    f"consent_not_provided_for:{kind}",
                    len(people),
                    f"purpose '{purpose.id}' does not provide for a separate '{kind}' consent (purposes.yaml); none was given ({article})",
                )
            )
            continue
        missing = len(people) - len(granted(session, people, purpose.id, kind))
        if missing:
            out.append(GateFailure(f"consent_missing:{kind}", missing, f"no separate '{kind}' consent for '{purpose.id}' ({article})"))
    return out


def _mechanism(rt: Runtime, recipient: RecipientRow, people: int) -> list[GateFailure]:
    today = legal_today(rt)
    if recipient.mechanism is None or recipient.mechanism_valid_from is None or recipient.mechanism_valid_until is None:
        return [GateFailure("mechanism_missing", people, "a recipient abroad needs a legal mechanism (PIPL Art. 38)")]
    if today < recipient.mechanism_valid_from:
        return [GateFailure("mechanism_not_yet_valid", people, f"the {recipient.mechanism} is valid from {recipient.mechanism_valid_from}")]
    if today > recipient.mechanism_valid_until:
        return [GateFailure("mechanism_expired", people, f"the {recipient.mechanism} expired on {recipient.mechanism_valid_until}")]
    return []


def plan_volume(session: Session, rt: Runtime, people: Sequence[str], fields: Sequence[str], *, lock: bool) -> VolumePlan:
    """The year's totals after this provision: distinct people, sensitive data counted on its own."""
    rules = config.load(rt.settings.policies_dir)
    year = legal_today(rt).year
    if lock:
        _ensure_volume_row(session, year)
    query = select(VolumeRow).where(VolumeRow.year == year)
    row = session.scalar(query.with_for_update() if lock else query)
    plan = VolumePlan(year=year)
    has_plain = any(not rt.catalog.fields[f].sensitive for f in fields)
    has_sensitive = any(rt.catalog.fields[f].sensitive for f in fields)
    counted: dict[str, tuple[bool, bool]] = {}
    for chunk in _chunks(people):
        for sid, plain, sensitive in session.execute(
            select(VolumePersonRow.subject_id, VolumePersonRow.counted_people, VolumePersonRow.sensitive).where(
                VolumePersonRow.year == year, VolumePersonRow.subject_id.in_(chunk)
            )
        ):
            counted[sid] = (bool(plain), bool(sensitive))
    for sid in people:
        plain, sensitive = counted.get(sid, (False, False))
        if has_plain and not plain:
            plan.new_people.append(sid)
        if has_sensitive and not sensitive:
            plan.new_sensitive.append(sid)
    plan.people_after = (row.people if row else 0) + len(plan.new_people)
    plan.sensitive_after = (row.sensitive_people if row else 0) + len(plan.new_sensitive)
    plan.tier = thresholds.required_tier(plan.people_after, plan.sensitive_after, rules.thresholds)
    return plan


def _ensure_volume_row(session: Session, year: int) -> None:
    dialect = session.get_bind().dialect.name
    values = {"year": year, "people": 0, "sensitive_people": 0}
    stmt = (pg_insert(VolumeRow) if dialect == "postgresql" else sqlite_insert(VolumeRow)).values(values).on_conflict_do_nothing()
    session.execute(stmt)


def record_volume(session: Session, plan: VolumePlan, recipient_id: str) -> None:
    """Count the people of a provision that went abroad (same transaction as the provision)."""
    row = session.get(VolumeRow, plan.year)
    assert row is not None  # created and locked by plan_volume(lock=True)
    row.people += len(plan.new_people)
    row.sensitive_people += len(plan.new_sensitive)
    plain, sensitive = set(plan.new_people), set(plan.new_sensitive)
    for sid in dict.fromkeys([*plan.new_people, *plan.new_sensitive]):
        existing = session.get(VolumePersonRow, (plan.year, sid))
        if existing is None:
            session.add(
                VolumePersonRow(
                    year=plan.year, subject_id=sid, recipient_id=recipient_id, counted_people=sid in plain, sensitive=sid in sensitive
                )
            )
        else:
            existing.counted_people = existing.counted_people or sid in plain
            existing.sensitive = existing.sensitive or sid in sensitive
    session.flush()


def live_failures(session: Session, people: Sequence[str]) -> tuple[list[GateFailure], list[str]]:
    """Unknown or deleted people, counted; and the live ones, which the other conditions are checked for."""
    unknown = gone = 0
    live = []
    for sid in people:
        try:
            subjects.require_live(session, sid)
        except LendShieldError as exc:
            if exc.status == 410:
                gone += 1
            else:
                unknown += 1
            continue
        live.append(sid)
    out = []
    if unknown:
        out.append(GateFailure("subject_unknown", unknown, "no such data subject"))
    if gone:
        out.append(GateFailure("subject_deleted", gone, "the person's data was deleted (crypto-shredded)"))
    return out, live


def check(
    session: Session,
    rt: Runtime,
    recipient: RecipientRow,
    purpose: Purpose,
    people: Sequence[str],
    fields: Sequence[str],
    *,
    dry_run: bool = False,
) -> GateResult:
    """Every condition, for every person; an empty ``failures`` means the provision may go ahead.

    ``dry_run`` only asks: the volume row is neither created nor locked.
    """
    rules = config.load(rt.settings.policies_dir)
    n = len(people)
    abroad = recipient.region != rules.home_region
    failures: list[GateFailure] = []
    if recipient.status != "active":
        failures.append(GateFailure("recipient_retired", n, "the recipient was retired from the registry"))
    if purpose.id not in recipient.purposes:
        failures.append(
            GateFailure("purpose_not_registered", n, f"the recipient is not registered for purpose '{purpose.id}' (PIPL Art. 23)")
        )
    outside = sorted(f for f in fields if f not in purpose.fields)
    if outside:
        failures.append(GateFailure("field_not_needed", n, f"purpose '{purpose.id}' does not need {', '.join(outside)} (PIPL Art. 6)"))
    categories = sorted({rt.catalog.fields[f].category for f in fields} - set(recipient.categories))
    if categories:
        failures.append(GateFailure("category_not_registered", n, f"the recipient is not registered for {', '.join(categories)}"))
    missing, live = live_failures(session, people)
    failures += missing
    if abroad:
        failures += _mechanism(rt, recipient, n)
    failures += _consents(session, rt, purpose, recipient, abroad, live, fields)
    volume = None
    if abroad:
        volume = plan_volume(session, rt, live, fields, lock=not failures and not dry_run)
        mechanism_tier = rules.mechanism_covers.get(recipient.mechanism or "", "exempt")
        if recipient.mechanism is not None and not thresholds.covers(mechanism_tier, volume.tier):
            failures.append(
                GateFailure(
                    "volume_threshold",
                    n,
                    f"this provision brings the year's cross-border total to {volume.people_after} people and "
                    f"{volume.sensitive_after} with sensitive data, which needs {TIER_NAMES[volume.tier]}; "
                    f"the recipient's {recipient.mechanism} covers {TIER_NAMES[mechanism_tier]} (2024 cross-border rules, Arts. 7-8)",
                )
            )
    return GateResult(failures=failures, abroad=abroad, volume=volume)
