"""The registry of recipients: third parties (PIPL Art. 23) and entrusted processors (Art. 21).

A recipient abroad (any region other than the home region, Art. 38) carries its legal mechanism:
a CAC security assessment, a filed standard contract, a certification, or an exemption, with the
evidence and the dates it is valid. Every change is written to the ledger; nothing is deleted
(provisions keep pointing at the recipient they went to), a recipient is retired instead.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from lendshield import ledger
from lendshield.errors import Forbidden
from lendshield.principals import Principal
from lendshield.runtime import Runtime
from lendshield.transfers import config
from lendshield.transfers.errors import RecipientInvalid, RecipientNotFound, RecipientRetired
from lendshield.transfers.models import RecipientRow

KINDS = ("third_party", "entrusted_processor")
_REGION = re.compile(r"^[A-Z]{2}$")


@dataclass(frozen=True, slots=True, kw_only=True)
class RecipientDraft:
    name: str
    kind: str
    region: str
    contact: str
    purposes: Sequence[str]
    categories: Sequence[str]
    contract_ref: str
    mechanism: str | None = None
    mechanism_evidence: str | None = None
    mechanism_valid_from: date | None = None
    mechanism_valid_until: date | None = None


def is_abroad(rt: Runtime, row: RecipientRow) -> bool:
    return row.region != config.load(rt.settings.policies_dir).home_region


def _need(rt: Runtime, who: Principal, write: bool) -> None:
    rules = config.load(rt.settings.policies_dir)
    roles = rules.registry_roles if write else rules.registry_read_roles | rules.registry_roles
    if not who.roles & roles:
        raise Forbidden("this role may not " + ("change the recipient registry" if write else "read the recipient registry"))


def _text(value: str, path: str, limit: int) -> str:
    clean = value.strip()
    if not 1 <= len(clean) <= limit or any(ord(c) < 32 for c in clean):
        raise RecipientInvalid(f"{path}: 1 to {limit} printable characters", path=path)
    return clean


def _check(rt: Runtime, draft: RecipientDraft) -> RecipientDraft:
    """Everything is checked before anything is written."""
    rules = config.load(rt.settings.policies_dir)
    if draft.kind not in KINDS:
        raise RecipientInvalid(f"kind must be one of {', '.join(KINDS)}", path="kind")
    region = draft.region.strip().upper()
    if not _REGION.match(region):
        raise RecipientInvalid("region: a two-letter country code (ISO 3166-1 alpha-2)", path="region")
    purposes = sorted(set(draft.purposes))
    if not purposes:
        raise RecipientInvalid("purposes: at least one purpose (PIPL Art. 23: the purpose is told to the person)", path="purposes")
    for p in purposes:
        if p not in rt.policy.purposes:
            raise RecipientInvalid(f"purposes: no such purpose '{p}'" if re.fullmatch(r"[a-z_]{1,64}", p) else "purposes: unknown purpose")
    categories = sorted(set(draft.categories))
    if not categories:
        raise RecipientInvalid("categories: at least one field category", path="categories")
    for c in categories:
        if c not in rt.catalog.categories:
            raise RecipientInvalid(f"categories: no such category '{c}'" if re.fullmatch(r"[a-z_]{1,64}", c) else "categories: unknown")
    abroad = region != rules.home_region
    mechanism, evidence = draft.mechanism, draft.mechanism_evidence
    start, until = draft.mechanism_valid_from, draft.mechanism_valid_until
    if abroad:
        # PIPL Art. 38: a transfer abroad needs one of the legal mechanisms, documented.
        if mechanism not in config.MECHANISMS:
            raise RecipientInvalid(f"mechanism: a recipient abroad needs one of {', '.join(config.MECHANISMS)}", path="mechanism")
        if not evidence or not evidence.strip():
            raise RecipientInvalid("mechanism_evidence: the filing, approval or certificate is required", path="mechanism_evidence")
        evidence = _text(evidence, "mechanism_evidence", 300)
        if start is None or until is None:
            raise RecipientInvalid("mechanism_valid_from and mechanism_valid_until are required abroad", path="mechanism_valid_until")
        if until < start:
            raise RecipientInvalid("mechanism_valid_until is before mechanism_valid_from", path="mechanism_valid_until")
    elif mechanism is not None or evidence is not None or start is not None or until is not None:
        raise RecipientInvalid(f"a recipient in {rules.home_region} has no cross-border mechanism", path="mechanism")
    return RecipientDraft(
        name=_text(draft.name, "name", 200),
        kind=draft.kind,
        region=region,
        contact=_text(draft.contact, "contact", 300),
        purposes=purposes,
        categories=categories,
        contract_ref=_text(draft.contract_ref, "contract_ref", 200),
        mechanism=mechanism,
        mechanism_evidence=evidence,
        mechanism_valid_from=start,
        mechanism_valid_until=until,
    )


def _apply(row: RecipientRow, d: RecipientDraft) -> None:
    row.name, row.kind, row.region, row.contact = d.name, d.kind, d.region, d.contact
    row.purposes, row.categories, row.contract_ref = list(d.purposes), list(d.categories), d.contract_ref
    row.mechanism, row.mechanism_evidence = d.mechanism, d.mechanism_evidence
    row.mechanism_valid_from, row.mechanism_valid_until = d.mechanism_valid_from, d.mechanism_valid_until


def _log(session: Session, rt: Runtime, who: Principal, verb: str, row: RecipientRow, changed: Sequence[str] = ()) -> None:
    details: dict[str, object] = {
        "kind": row.kind,
        "region": row.region,
        "purposes": list(row.purposes),
        "categories": list(row.categories),
        "mechanism": row.mechanism,
        "valid_until": row.mechanism_valid_until.isoformat() if row.mechanism_valid_until else None,
    }
    if changed:
        details["changed"] = sorted(changed)
    ledger.append(
        session,
        ledger.Entry(time=rt.clock.now(), actor=who.id, action=f"transfer.recipient.{verb}", object=f"recipient:{row.id}", details=details),
    )


def create(session: Session, rt: Runtime, who: Principal, draft: RecipientDraft) -> RecipientRow:
    _need(rt, who, write=True)
    clean = _check(rt, draft)
    now = rt.clock.now()
    row = RecipientRow(id=str(uuid.uuid4()), status="active", created_at=now, created_by=who.id, updated_at=now)
    _apply(row, clean)
    session.add(row)
    session.flush()
    _log(session, rt, who, "create", row)
    return row


def _columns(row: RecipientRow) -> dict[str, object]:
    keys = ("name", "kind", "region", "contact", "purposes", "categories", "contract_ref", "mechanism", "mechanism_evidence")
    out = {k: getattr(row, k) for k in keys}
    out["mechanism_valid_from"], out["mechanism_valid_until"] = row.mechanism_valid_from, row.mechanism_valid_until
    return out


def replace(session: Session, rt: Runtime, who: Principal, recipient_id: str, draft: RecipientDraft) -> RecipientRow:
    """Replace every registered fact of a recipient (its contract, mechanism, purposes ...)."""
    _need(rt, who, write=True)
    row = _get(session, recipient_id)
    if row.status == "retired":
        raise RecipientRetired()
    clean = _check(rt, draft)
    before = _columns(row)
    _apply(row, clean)
    after = _columns(row)
    row.updated_at = rt.clock.now()
    session.flush()
    _log(session, rt, who, "update", row, [k for k in after if after[k] != before[k]])
    return row


def retire(session: Session, rt: Runtime, who: Principal, recipient_id: str) -> RecipientRow:
    """No further provision to this recipient; the records of past provisions stay (网数条例 Art. 12: kept ≥ 3 years)."""
    _need(rt, who, write=True)
    row = _get(session, recipient_id)
    if row.status == "retired":
        raise RecipientRetired()
    row.status = "retired"
    row.updated_at = rt.clock.now()
    session.flush()
    _log(session, rt, who, "retire", row)
    return row


def _get(session: Session, recipient_id: str) -> RecipientRow:
    row = session.get(RecipientRow, recipient_id)
    if row is None:
        raise RecipientNotFound()
    return row


def get(session: Session, rt: Runtime, who: Principal, recipient_id: str) -> RecipientRow:
    _need(rt, who, write=False)
    return _get(session, recipient_id)


def list_all(session: Session, rt: Runtime, who: Principal, *, include_retired: bool = False) -> list[RecipientRow]:
    _need(rt, who, write=False)
    query = select(RecipientRow).order_by(RecipientRow.name, RecipientRow.id)
    if not include_retired:
        query = query.where(RecipientRow.status == "active")
    return list(session.scalars(query))
