"""What the gate asks the consent ledger: does a legal basis cover these fields for this purpose?

Kept free of the subjects service so that ``subjects.service.read_fields`` can call it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import select
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


def denials(session: Session, catalog: Catalog, purpose: Purpose, subject_id: str, names: Iterable[str]) -> Mapping[str, Decision]:
    """Fields the legal basis does not cover, each with the consent rule that denies it.

    Only a consent basis (PIPL Art. 13(1)) needs a record; contract, legal duty and the other
    bases of Art. 13(2)-(7) do not.
    """
    wanted = list(names)
    if not wanted or not purpose.needs_consent:
        return {}
    grant = latest(session, subject_id, purpose.id, "purpose")
    if grant is None or grant.action != "grant":
        # Art. 15: a withdrawal stops future processing at once; a refusal means no consent.
        state = "withdrawn" if grant is not None and grant.action == "withdraw" else ("refused" if grant else "missing")
        d = _deny(f"consent-{state}:{purpose.id}", f"no consent for '{purpose.id}' ({state}; PIPL Arts. 13, 14, 15)")
        return dict.fromkeys(wanted, d)
    notice = session.get(NoticeRow, grant.notice_version)
    told = set(notice.purpose_fields.get(purpose.id, [])) if notice is not None else set()
    out: dict[str, Decision] = {}
    separate_missing = [k for k in sorted(purpose.separate) if not _granted(session, subject_id, purpose.id, k)]
    sensitive_ok: bool | None = None  # looked up once, only if a sensitive field is asked for
    for name in wanted:
        if name not in told:
            # Art. 14: a change in what is processed needs consent again; the old notice did not tell of this field.
            out[name] = _deny(
                f"consent-stale-notice:{purpose.id}",
                f"the consent was given to notice {grant.notice_version}, which did not include this field (PIPL Art. 14)",
            )
        elif separate_missing:
            kind = separate_missing[0]
            out[name] = _deny(f"separate-consent-missing:{kind}", f"needs the separate '{kind}' consent (PIPL Arts. 23, 25, 39)")
        elif catalog.fields[name].sensitive:
            if sensitive_ok is None:
                sensitive_ok = _granted(session, subject_id, purpose.id, "sensitive")
            if sensitive_ok:
                continue
            out[name] = _deny("separate-consent-missing:sensitive", "a sensitive field needs its own separate consent (PIPL Art. 29)")
    return out


def _granted(session: Session, subject_id: str, purpose: str, kind: str) -> bool:
    row = latest(session, subject_id, purpose, kind)
    return row is not None and row.action == "grant"
