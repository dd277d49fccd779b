"""What the gate asks the consent ledger: does a legal basis cover these fields for this purpose?

Kept free of the subjects service so that ``subjects.service.read_fields`` can call it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lendshield.catalog import Catalog
from lendshield.consent.models import ConsentRow, NoticeRow
from lendshield.policy import Decision, Effect, Purpose


def latest(session: Session, subject_id: str, purpose: str, kind: str) -> ConsentRow | None:
    """The most recent grant, refusal or withdrawal (prompts are not decisions)."""
    return session.scalars(
        select(ConsentRow)
        .where(
            ConsentRow.subject_id == subject_id,
            ConsentRow.purpose == purpose,
            ConsentRow.kind == kind,
            ConsentRow.action != "prompt",
        )
        .order_by(ConsentRow.id.desc())
        .limit(1)
    ).first()


def _deny(rule: str, reason: str) -> Decision:
    return Decision(Effect.DENY, rule, reason)


def _decisions(session: Session, subject_id: str, purpose: str) -> dict[str, tuple[str, str, dict[str, Any] | None]]:
    """kind -> (action, the notice's purpose fields) of the latest decision of each kind, in one
    statement (the same rows ``latest`` finds, for every kind at once, from the consent index)."""
    newest = (
        select(func.max(ConsentRow.id))
        .where(ConsentRow.subject_id == subject_id, ConsentRow.purpose == purpose, ConsentRow.action != "prompt")
        .group_by(ConsentRow.kind)
    )
    rows = session.execute(
        select(ConsentRow.kind, ConsentRow.action, ConsentRow.notice_version, NoticeRow.purpose_fields)
        .outerjoin(NoticeRow, NoticeRow.version == ConsentRow.notice_version)
        .where(ConsentRow.id.in_(newest.scalar_subquery()))
    )
    return {kind: (action, version, fields) for kind, action, version, fields in rows}


def denials(session: Session, catalog: Catalog, purpose: Purpose, subject_id: str, names: Iterable[str]) -> Mapping[str, Decision]:
    """Fields the legal basis does not cover, each with the consent rule that denies it.

    Only a consent basis (PIPL Art. 13(1)) needs a record; contract, legal duty and the other
    bases of Art. 13(2)-(7) do not.
    """
    wanted = list(names)
    if not wanted or not purpose.needs_consent:
        return {}
    state = _decisions(session, subject_id, purpose.id)
    grant = state.get("purpose")
    if grant is None or grant[0] != "grant":
        # Art. 15: a withdrawal stops future processing at once; a refusal means no consent.
        why = "withdrawn" if grant is not None and grant[0] == "withdraw" else ("refused" if grant else "missing")
        d = _deny(f"consent-{why}:{purpose.id}", f"no consent for '{purpose.id}' ({why}; PIPL Arts. 13, 14, 15)")
        return dict.fromkeys(wanted, d)
    _action, notice_version, notice_fields = grant
    told = set(notice_fields.get(purpose.id, [])) if notice_fields is not None else set()
    out: dict[str, Decision] = {}

    def granted(kind: str) -> bool:
        found = state.get(kind)
        return found is not None and found[0] == "grant"

    separate_missing = [k for k in sorted(purpose.separate) if not granted(k)]
    for name in wanted:
        if name not in told:
            # Art. 14: a change in what is processed needs consent again; the old notice did not tell of this field.
            out[name] = _deny(
                f"consent-stale-notice:{purpose.id}",
                f"the consent was given to notice {notice_version}, which did not include this field (PIPL Art. 14)",
            )
        elif separate_missing:
            kind = separate_missing[0]
            out[name] = _deny(f"separate-consent-missing:{kind}", f"needs the separate '{kind}' consent (PIPL Arts. 23, 25, 39)")
        elif catalog.fields[name].sensitive:
            if granted("sensitive"):
                continue
            out[name] = _deny("separate-consent-missing:sensitive", "a sensitive field needs its own separate consent (PIPL Art. 29)")
    return out
