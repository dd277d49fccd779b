"""The vault's operations. ``read_fields`` is the one place personal fields leave the vault."""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from lendshield import ledger
from lendshield.catalog import FieldInvalid
from lendshield.catalog.validators import resident_id_birth_date
from lendshield.consent import gate as consent_gate
from lendshield.crypto import FieldCipher
from lendshield.errors import Forbidden, InvalidInput
from lendshield.ledger.entry import Details
from lendshield.policy import Decision, Effect
from lendshield.policy.engine import NO_PURPOSE, UNKNOWN_PURPOSE
from lendshield.policy.facts import facts_for
from lendshield.principals import Principal
from lendshield.runtime import Runtime
from lendshield.subjects import links, vault
from lendshield.subjects.errors import NotIndexed, PurposeRefused, ReadDenied, ReasonRequired, TokenNotFound
from lendshield.subjects.models import (
    BlindIndexRow,
    FieldValueRow,
    SubjectKeyRow,
    SubjectRow,
    TokenRow,
)

SHRED_ROLES = frozenset({"protection_officer"})
WRITE_ROLES = frozenset({"admin", "customer_service", "risk_officer", "loan_system", "protection_officer"})


@dataclass(frozen=True, slots=True)
class FieldView:
    value: str
    effect: Effect
    rule_id: str
    version: int


@dataclass(frozen=True, slots=True)
class SubjectView:
    subject_id: str
    kind: str
    fields: dict[str, FieldView]
    denied: dict[str, Decision] = field(default_factory=dict)
    ledger_seq: int = -1


@dataclass(frozen=True, slots=True)
class NewContact:
    relation: str
    fields: Mapping[str, str]


def _validate_fields(rt: Runtime, fields: Mapping[str, str], prefix: str) -> dict[str, str]:
    clean: dict[str, str] = {}
    for name, raw in fields.items():
        spec = rt.catalog.field(name, f"{prefix}.{name}")
        value, _warnings = spec.validate(raw, f"{prefix}.{name}")
        clean[name] = value
    return clean


def _store_fields(
    session: Session,
    rt: Runtime,
    cipher_subject: str,
    cipher: FieldCipher,
    values: Mapping[str, str],
    who: Principal,
    version: int = 1,
) -> None:
    now = rt.clock.now()
    for name, value in values.items():
        session.add(
            FieldValueRow(
                subject_id=cipher_subject,
                field=name,
                version=version,
                current=True,
                ciphertext=cipher.encrypt(name, version, value),
                created_at=now,
                created_by=who.id,
            )
        )
        if rt.catalog.fields[name].blind_index:
            session.add(BlindIndexRow(subject_id=cipher_subject, field=name, digest=vault.blind_index(rt.keys, name, value)))


def _require_writer(who: Principal) -> None:
    if not who.roles & WRITE_ROLES:
        raise Forbidden("this role may not create or correct personal data")


def _create_one(
    session: Session,
    rt: Runtime,
    who: Principal,
    kind: str,
    fields: Mapping[str, str],
    synthetic: bool,
    timezone: str,
) -> str:
    subject_id = str(uuid.uuid4())
    session.add(
        SubjectRow(
            id=subject_id,
            kind=kind,
            status="active",
            synthetic=synthetic,
            timezone=timezone,
            created_at=rt.clock.now(),
        )
    )
    session.flush()
    cipher = vault.new_key(session, rt.keys, subject_id)
    _store_fields(session, rt, subject_id, cipher, fields, who)
    ledger.append(
        session,
        ledger.Entry(
            time=rt.clock.now(),
            actor=who.id,
            action="subject.create",
            object=f"{kind}:fields",
            subject_ref=ledger.subject_ref(rt.keys, subject_id),
            details={"fields": sorted(fields)},
        ),
    )
    return subject_id


def create_subject(
    session: Session,
    rt: Runtime,
    who: Principal,
    *,
    kind: str,
    fields: Mapping[str, str],
    contacts: Sequence[NewContact] = (),
    synthetic: bool = False,
    timezone: str = "Asia/Shanghai",
) -> tuple[str, list[str]]:
    """Validate everything first, then store: an invalid value leaves nothing behind.

    Returns the new subject's id and the ids of its emergency contacts (subjects of their own).
    """
    _require_writer(who)
    if kind not in ("borrower", "contact", "canary"):
        raise InvalidInput("kind must be borrower, contact or canary")
    if not fields:
        raise InvalidInput("fields: at least one field is needed")
    clean = _validate_fields(rt, fields, "fields")
    clean_contacts = []
    for i, contact in enumerate(contacts):
        relation = contact.relation.strip()
        if not 1 <= len(relation) <= 32:
            raise FieldInvalid(f"contacts[{i}].relation", "must have 1 to 32 characters")
        clean_contacts.append((relation, _validate_fields(rt, contact.fields, f"contacts[{i}].fields")))
    subject_id = _create_one(session, rt, who, kind, clean, synthetic, timezone)
    contact_ids = []
    for relation, values in clean_contacts:
        contact_id = _create_one(session, rt, who, "contact", values, synthetic, timezone)
        links.add_link(session, rt, subject_id, contact_id, relation)  # the relation sealed under the contact's key
        contact_ids.append(contact_id)
    session.flush()
    return subject_id, contact_ids


def _decide(
    rt: Runtime,
    who: Principal,
    names: Sequence[str],
    purpose: str | None,
    want_clear: bool,
    facts: frozenset[str] = frozenset(),
) -> dict[str, Decision]:
    specs = [rt.catalog.field(name, f"fields.{name}") for name in names]
    return rt.policy.decide_fields(who, specs, purpose, want_clear, facts)


def _gate(
    session: Session,
    rt: Runtime,
    who: Principal,
    subject_id: str,
    names: Sequence[str],
    purpose: str | None,
    want_clear: bool,
    held: bool = True,
) -> tuple[Mapping[str, Decision], bool]:
    """Role x purpose x field (policy), case-state conditions, then the legal basis (consent ledger).

    PIPL Art. 6 (purpose and minimum necessary), Art. 13 (a legal basis), Arts. 14-15 (consent
    and its withdrawal), Art. 29 (separate consent for sensitive data). The first that denies wins.
    ``held`` is false when the vault load found no hold in force (the restriction check is then
    known to pass). Returns the decisions and whether they are the policy's shared memo (then
    they must not be mutated, and may be memoised on).
    """
    engine = rt.policy
    if purpose is None or purpose not in engine.purposes:
        return {}, False
    facts = facts_for(session, who, subject_id, engine.conditions_for(who.roles, purpose))
    decisions = engine.decide_request(who, tuple(names), rt.catalog.fields.__getitem__, purpose, want_clear, facts)
    allowed = [n for n, d in decisions.items() if d.allowed]
    if allowed and held:
        from lendshield.rights.holds import restriction_for  # rights builds on subjects: imported late

        why = restriction_for(session, rt, subject_id, purpose)
        if why is not None:
            # PIPL Arts. 44 and 47: restricted, or held for the law, the data is in storage only.
            return {n: Decision(Effect.DENY, "restricted", why) if d.allowed else d for n, d in decisions.items()}, False
    denials = consent_gate.denials(session, rt.catalog, engine.purposes.by_id[purpose], subject_id, allowed)
    return ({**decisions, **denials}, False) if denials else (decisions, True)


@lru_cache(maxsize=256)
def _purpose_label(purpose: str | None) -> str | None:
    """A purpose as it may be written down: a name, never free text a caller put in the header."""
    if purpose is None:
        return None
    return purpose if re.fullmatch(r"[a-z][a-z0-9_]{0,63}", purpose) else "(not a purpose name)"


def _summarise(decisions: Mapping[str, Decision]) -> tuple[str, str]:
    effects = {d.effect for d in decisions.values()}
    summary = effects.pop().value if len(effects) == 1 else "partial"
    rules = ",".join(sorted({d.rule_id for d in decisions.values()}))
    return summary, rules


@dataclass(frozen=True, slots=True)
class _Outcome:
    """What a read's decisions mean for its ledger entry and its answer (pure: memoised)."""

    decisions: Mapping[str, Decision]
    summary: str
    rules: str
    details: Details
    allowed: dict[str, Decision]
    denied: dict[str, Decision]
    any_clear: bool


def _outcome_of(decisions: Mapping[str, Decision]) -> _Outcome:
    summary, rules = _summarise(decisions) if decisions else ("deny", "no-fields")
    return _Outcome(
        decisions=decisions,
        summary=summary,
        rules=rules,
        details=Details({"decisions": {n: [d.effect.value, d.rule_id] for n, d in decisions.items()}}),
        allowed={n: d for n, d in decisions.items() if d.allowed},
        denied={n: d for n, d in decisions.items() if not d.allowed},
        any_clear=any(d.effect is Effect.CLEAR for d in decisions.values()),
    )


# Outcomes of the policy's memoised decisions, by the identity of the decisions mapping (each
# entry holds its mapping, so the identity cannot be reused while the entry lives). Decisions a
# restriction or consent changed are fresh mappings and are worked out each time.
_OUTCOMES: dict[int, _Outcome] = {}
_OUTCOMES_LIMIT = 4096


def _outcome(decisions: Mapping[str, Decision], shared: bool) -> _Outcome:
    if not shared:
        return _outcome_of(decisions)
    found = _OUTCOMES.get(id(decisions))
    if found is None or found.decisions is not decisions:
        found = _outcome_of(decisions)
        if len(_OUTCOMES) >= _OUTCOMES_LIMIT:
            _OUTCOMES.clear()
        _OUTCOMES[id(decisions)] = found
    return found


def _read_names(rt: Runtime, fields: Sequence[str] | None, held: Mapping[str, object]) -> list[str]:
    """The fields asked for (each once, in order), or every field held; each must be in the catalog."""
    names = list(dict.fromkeys(fields)) if fields else sorted(held)
    if not rt.catalog.fields.keys() >= set(names):
        for name in names:
            rt.catalog.field(name, f"fields.{name}")  # raises for the first unknown one
    return names


def read_fields(
    session: Session,
    rt: Runtime,
    who: Principal,
    subject_id: str,
    fields: Sequence[str] | None = None,
    *,
    purpose: str | None,
    reason: str | None,
    clear: bool = False,
    via: str = "read",
) -> SubjectView:
    """The gate: policy for each field, decrypt or mask, and a ledger entry for the decision.

    A denied read is written to the ledger too; when nothing was allowed it raises ``ReadDenied``
    after the entry is recorded (the unit of work keeps it).
    """
    now = rt.clock.now()
    loaded = vault.load_for_read(session, subject_id, now.date())
    held = loaded.fields
    names = _read_names(rt, fields, held)
    refused = None if purpose is not None and purpose in rt.policy.purposes else (NO_PURPOSE if purpose is None else UNKNOWN_PURPOSE)
    if refused is not None:
        decisions: Mapping[str, Decision] = dict.fromkeys(names, refused)
        shared = False
    else:
        decisions, shared = _gate(session, rt, who, subject_id, names, purpose, clear, loaded.held)
    outcome = _outcome(decisions, shared)
    if clear and outcome.any_clear and not (reason and reason.strip()):
        raise ReasonRequired()
    # Decrypted before the entry is written: a read that cannot be served (the key service is
    # down, a value was damaged) fails with no entry saying it happened. The values leave only
    # with the answer, after the entry is committed.
    opened = _open(rt, loaded, subject_id, outcome) if refused is None and outcome.allowed else {}
    seq = ledger.append(
        session,
        ledger.Entry(
            time=now,
            actor=who.id,
            action=f"subject.{via}",
            object="fields:" + ",".join(names),
            subject_ref=ledger.subject_ref(rt.keys, subject_id),
            purpose=_purpose_label(purpose),
            decision=outcome.summary,
            rule_id=outcome.rules,
            reason=(reason or None),
            details=outcome.details,
        ),
    )
    if refused is not None:
        # Recorded above, then refused: a read for a purpose that does not exist never happens.
        raise PurposeRefused(purpose)
    denied = outcome.denied
    if not outcome.allowed:
        why = "; ".join(f"{n}: {d.reason or d.rule_id}" for n, d in denied.items()) or "no fields"
        raise ReadDenied(f"read denied ({why})", rules=sorted({d.rule_id for d in denied.values()}))
    return SubjectView(subject_id=subject_id, kind=loaded.kind, fields=opened, denied=dict(denied), ledger_seq=seq)


def _open(rt: Runtime, loaded: vault.Loaded, subject_id: str, outcome: _Outcome) -> dict[str, FieldView]:
    """Decrypt the allowed fields under the subject's data key (AAD-bound), masking all but clear ones."""
    cipher = vault.cipher_from_loaded(rt.keys, rt.dek_cache, loaded, subject_id)
    held, specs = loaded.fields, rt.catalog.fields
    out: dict[str, FieldView] = {}
    for name, decision in outcome.allowed.items():
        held_value = held.get(name)
        if held_value is None:
            continue
        version, ciphertext = held_value
        value = cipher.decrypt(name, version, ciphertext)
        if decision.effect is not Effect.CLEAR:
            value = specs[name].mask(value)
        out[name] = FieldView(value=value, effect=decision.effect, rule_id=decision.rule_id, version=version)
    return out


def subject_age(session: Session, rt: Runtime, subject_id: str, on: date) -> int | None:
    """Age in whole years on ``on``, from the birth date in the resident ID; None if unknown.

    For PIPL Art. 31 (under 14 needs a guardian). Only this module decrypts; neither the ID
    nor the birth date leaves this function, and no ledger entry is written (no read happens).
    """
    row = session.scalar(
        select(FieldValueRow).where(
            FieldValueRow.subject_id == subject_id, FieldValueRow.field == "resident_id", FieldValueRow.current.is_(True)
        )
    )
    if row is None:
        return None
    cipher = vault.cipher_for(session, rt.keys, rt.dek_cache, subject_id)
    try:
        born = resident_id_birth_date(cipher.decrypt("resident_id", row.version, row.ciphertext))
    except ValueError:
        return None
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def correct_field(
    session: Session,
    rt: Runtime,
    who: Principal,
    subject_id: str,
    name: str,
    raw: str,
    *,
    reason: str,
) -> int:
    """Store a new version of a field; the previous ciphertext stays, no longer current."""
    _require_writer(who)
    if not reason.strip():
        raise ReasonRequired()
    spec = rt.catalog.field(name, f"fields.{name}")
    value, _ = spec.validate(raw, f"fields.{name}")
    vault.live_subject(session, subject_id)
    cipher = vault.cipher_for(session, rt.keys, rt.dek_cache, subject_id)
    previous = session.scalar(
        select(FieldValueRow).where(FieldValueRow.subject_id == subject_id, FieldValueRow.field == name, FieldValueRow.current.is_(True))
    )
    version = 1
    if previous is not None:
        previous.current = False
        version = previous.version + 1
        session.execute(delete(BlindIndexRow).where(BlindIndexRow.subject_id == subject_id, BlindIndexRow.field == name))
        session.flush()
    _store_fields(session, rt, subject_id, cipher, {name: value}, who, version=version)
    ledger.append(
        session,
        ledger.Entry(
            time=rt.clock.now(),
            actor=who.id,
            action="subject.correct",
            object=f"field:{name}",
            subject_ref=ledger.subject_ref(rt.keys, subject_id),
            reason=reason,
            details={"field": name, "version": version},
        ),
    )
    return version


def find_by(session: Session, rt: Runtime, who: Principal, name: str, raw: str, *, purpose: str | None) -> list[str]:
    """Exact lookup through the blind index; the caller needs at least masked access to the field."""
    spec = rt.catalog.field(name, "field")
    if not spec.blind_index:
        raise NotIndexed(f"field '{name}' has no blind index")
    decision = _decide(rt, who, [name], purpose, False)[name]
    if decision.rule_id in (NO_PURPOSE.rule_id, UNKNOWN_PURPOSE.rule_id):
        ledger.append(
            session,
            ledger.Entry(
                time=rt.clock.now(),
                actor=who.id,
                action="subject.lookup",
                object=f"field:{name}",
                purpose=_purpose_label(purpose),
                decision="deny",
                rule_id=decision.rule_id,
            ),
        )
        raise PurposeRefused(purpose)
    if not decision.allowed:
        ledger.append(
            session,
            ledger.Entry(
                time=rt.clock.now(),
                actor=who.id,
                action="subject.lookup",
                object=f"field:{name}",
                purpose=purpose,
                decision="deny",
                rule_id=decision.rule_id,
            ),
        )
        raise ReadDenied(f"lookup denied: {decision.reason or decision.rule_id}", rules=[decision.rule_id])
    value, _ = spec.validate(raw, "value")
    digest = vault.blind_index(rt.keys, name, value)
    ids = list(
        session.scalars(
            select(BlindIndexRow.subject_id)
            .join(SubjectRow, SubjectRow.id == BlindIndexRow.subject_id)
            .where(BlindIndexRow.field == name, BlindIndexRow.digest == digest, SubjectRow.status == "active")
        ).unique()
    )
    for sid in ids:
        ledger.append(
            session,
            ledger.Entry(
                time=rt.clock.now(),
                actor=who.id,
                action="subject.lookup",
                object=f"field:{name}",
                subject_ref=ledger.subject_ref(rt.keys, sid),
                purpose=purpose,
                decision="match",
                rule_id=decision.rule_id,
            ),
        )
    if not ids:
        ledger.append(
            session,
            ledger.Entry(
                time=rt.clock.now(),
                actor=who.id,
                action="subject.lookup",
                object=f"field:{name}",
                purpose=purpose,
                decision="no-match",
                rule_id=decision.rule_id,
            ),
        )
    return ids


def tokenize(session: Session, rt: Runtime, who: Principal, subject_id: str, name: str, *, purpose: str | None) -> str:
    """A stable opaque token for the current value of a field (same value, same token)."""
    view = read_fields(session, rt, who, subject_id, [name], purpose=purpose, reason=None, clear=False, via="tokenize")
    current = view.fields.get(name)
    if current is None:
        raise InvalidInput(f"fields.{name}: the subject has no value for this field")
    cipher = vault.cipher_for(session, rt.keys, rt.dek_cache, subject_id)
    row = session.scalar(
        select(FieldValueRow).where(
            FieldValueRow.subject_id == subject_id, FieldValueRow.field == name, FieldValueRow.version == current.version
        )
    )
    assert row is not None
    digest = vault.value_digest(rt.keys, subject_id, name, cipher.decrypt(name, row.version, row.ciphertext))
    existing = session.scalar(
        select(TokenRow.token).where(TokenRow.subject_id == subject_id, TokenRow.field == name, TokenRow.value_digest == digest)
    )
    if existing is not None:
        return existing
    token = "tok_" + secrets.token_urlsafe(18)
    session.add(TokenRow(token=token, subject_id=subject_id, field=name, value_digest=digest, created_at=rt.clock.now()))
    session.flush()
    return token


def detokenize(
    session: Session,
    rt: Runtime,
    who: Principal,
    token: str,
    *,
    purpose: str | None,
    reason: str | None,
    clear: bool,
) -> tuple[str, str, FieldView]:
    """Resolve a token through the same gate as any read. Returns (subject id, field, view)."""
    row = session.get(TokenRow, token) if token.startswith("tok_") and len(token) <= 64 else None
    if row is None:
        raise TokenNotFound()
    view = read_fields(session, rt, who, row.subject_id, [row.field], purpose=purpose, reason=reason, clear=clear, via="detokenize")
    cipher = vault.cipher_for(session, rt.keys, rt.dek_cache, row.subject_id)
    for fv in session.scalars(
        select(FieldValueRow)
        .where(FieldValueRow.subject_id == row.subject_id, FieldValueRow.field == row.field)
        .order_by(FieldValueRow.version.desc())
    ):
        value = cipher.decrypt(row.field, fv.version, fv.ciphertext)
        if vault.value_digest(rt.keys, row.subject_id, row.field, value) == row.value_digest:
            shown = view.fields[row.field]
            decision_effect = shown.effect
            if decision_effect is not Effect.CLEAR:
                value = rt.catalog.fields[row.field].mask(value)
            return row.subject_id, row.field, FieldView(value=value, effect=decision_effect, rule_id=shown.rule_id, version=fv.version)
    raise TokenNotFound()


def shred(session: Session, rt: Runtime, who: Principal, subject_id: str, *, reason: str) -> None:
    """Crypto-shred: destroy the data key, the blind indexes and tokens. The ciphertext stays, unreadable."""
    if not who.roles & SHRED_ROLES and who.id != "system":
        raise Forbidden("only the protection officer may crypto-shred a subject")
    if not reason.strip():
        raise ReasonRequired()
    subject = vault.live_subject(session, subject_id)
    session.execute(delete(SubjectKeyRow).where(SubjectKeyRow.subject_id == subject_id))
    session.execute(delete(BlindIndexRow).where(BlindIndexRow.subject_id == subject_id))
    session.execute(delete(TokenRow).where(TokenRow.subject_id == subject_id))
    session.execute(
        update(SubjectRow)
        .where(SubjectRow.id == subject.id)
        .values(status="shredded", shredded_at=rt.clock.now(), shred_reason=reason[:500])
    )
    ledger.append(
        session,
        ledger.Entry(
            time=rt.clock.now(),
            actor=who.id,
            action="subject.shred",
            object="subject",
            subject_ref=ledger.subject_ref(rt.keys, subject_id),
            reason=reason,
        ),
    )


def contacts_of(
    session: Session, rt: Runtime, borrower_id: str, *, who: Principal | str, purpose: str, reason: str | None = None
) -> list[tuple[str, str]]:
    """(contact id, relation) of a borrower's live emergency contacts (``links.contacts_of``).

    Opening the relations is recorded in the ledger as ``who`` (a principal or a system actor
    id) for ``purpose``: one ``subject.relations`` entry on the borrower's timeline.
    """
    return links.contacts_of(session, rt, borrower_id, who=who, purpose=purpose, reason=reason)


def contact_ids_of(session: Session, borrower_id: str) -> list[str]:
    """Ids of a borrower's live emergency contacts; no relation is opened (nothing to record)."""
    return links.contact_ids_of(session, borrower_id)


def require_live(session: Session, subject_id: str) -> None:
    """Raise SubjectNotFound or SubjectShredded unless the subject exists and is readable."""
    vault.live_subject(session, subject_id)


def timezone_of(session: Session, subject_id: str) -> str:
    """The subject's own time zone (IANA name): contact hours are the person's local hours."""
    return vault.live_subject(session, subject_id).timezone


def relation_of(
    session: Session, rt: Runtime, borrower_id: str, contact_id: str, *, who: Principal | str, purpose: str, reason: str | None = None
) -> str | None:
    """How an emergency contact or guarantor is linked to a borrower; None when not linked.

    An opened relation is recorded in the ledger like ``contacts_of``."""
    return links.relation_of(session, rt, borrower_id, contact_id, who=who, purpose=purpose, reason=reason)
