"""Links between borrowers and their emergency contacts.

The link keeps the two ids in clear (the watch and collection need to know whose contact someone
is) and the relation (配偶, 父母, 同事 ...) sealed under the contact's own data key: it is personal
data about both people (the catalog's ``relationship`` category), so it is encrypted like any field
and crypto-shredding the contact makes it unreadable. The seal is bound to the contact and to the
borrower, so a relation copied to another link fails to open.

Opening relations is an access to personal data like any read: ``contacts_of`` and
``relation_of`` take who the caller acts for (a principal, or a system actor id) and the purpose,
and write one ledger entry per call that opened at least one relation (action
``subject.relations``, on the borrower's timeline, naming how many were opened; never the
relation itself). Who only needs the contacts' ids asks ``contact_ids_of``, which opens nothing.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from lendshield import ledger
from lendshield.crypto import FieldCipher
from lendshield.principals import Principal
from lendshield.runtime import Runtime
from lendshield.subjects import vault
from lendshield.subjects.errors import SubjectShredded
from lendshield.subjects.models import SubjectLinkRow, SubjectRow

RELATION_CATEGORY = "relationship"
RELATIONS_ACTION = "subject.relations"


def _label(borrower_id: str) -> str:
    return f"link/{RELATION_CATEGORY}/{borrower_id}"


def seal_relation(cipher: FieldCipher, borrower_id: str, relation: str) -> bytes:
    """The relation sealed under the contact's data key (``cipher``), bound to the borrower."""
    return cipher.seal(_label(borrower_id), relation.encode())


def open_relation(cipher: FieldCipher, borrower_id: str, sealed: bytes) -> str:
    return cipher.open(_label(borrower_id), sealed).decode()


def add_link(session: Session, rt: Runtime, borrower_id: str, contact_id: str, relation: str) -> None:
    """Link a contact (already created, with its data key) to a borrower, the relation sealed."""
    cipher = vault.cipher_for(session, rt.keys, rt.dek_cache, contact_id)
    session.add(
        SubjectLinkRow(borrower_id=borrower_id, contact_id=contact_id, relation_sealed=seal_relation(cipher, borrower_id, relation))
    )


def _relation(session: Session, rt: Runtime, row: SubjectLinkRow) -> str | None:
    if row.relation_sealed is None:
        return None  # the contact was shredded before relations were sealed: nothing was kept
    try:
        cipher = vault.cipher_for(session, rt.keys, rt.dek_cache, row.contact_id)
    except SubjectShredded:
        return None
    return open_relation(cipher, row.borrower_id, bytes(row.relation_sealed))


def _check_purpose(purpose: str) -> None:
    """Checked before anything is opened: a caller's purpose name, never free text."""
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", purpose):
        raise ValueError("purpose must be a purpose name")


def _record(session: Session, rt: Runtime, who: Principal | str, borrower_id: str, purpose: str, reason: str | None, opened: int) -> None:
    """One entry for the relations one call opened: who, why, how many; never the relations."""
    ledger.append(
        session,
        ledger.Entry(
            time=rt.clock.now(),
            actor=who if isinstance(who, str) else who.id,
            action=RELATIONS_ACTION,
            object=f"relations:{opened}",
            subject_ref=ledger.subject_ref(rt.keys, borrower_id),
            purpose=purpose,
            reason=reason,
            details={"opened": opened, "category": RELATION_CATEGORY},
        ),
    )


def contacts_of(
    session: Session, rt: Runtime, borrower_id: str, *, who: Principal | str, purpose: str, reason: str | None = None
) -> list[tuple[str, str]]:
    """(contact id, relation) of a borrower's emergency contacts, oldest link first.

    A crypto-shredded contact is left out: nobody can be reached, or told about, through them.
    ``who`` (a principal or a system actor id) and ``purpose`` go into the one ledger entry
    recording the relations opened (none is written when there was nothing to open).
    """
    _check_purpose(purpose)
    out = []
    for row in session.scalars(select(SubjectLinkRow).where(SubjectLinkRow.borrower_id == borrower_id).order_by(SubjectLinkRow.id)):
        relation = _relation(session, rt, row)
        if relation is not None:
            out.append((row.contact_id, relation))
    if out:
        _record(session, rt, who, borrower_id, purpose, reason, len(out))
    return out


def relation_of(
    session: Session, rt: Runtime, borrower_id: str, contact_id: str, *, who: Principal | str, purpose: str, reason: str | None = None
) -> str | None:
    """How a contact is linked to a borrower; None when not linked (or the contact was shredded).

    An opened relation is recorded like ``contacts_of`` does (one entry, one relation).
    """
    _check_purpose(purpose)
    row = session.scalar(select(SubjectLinkRow).where(SubjectLinkRow.borrower_id == borrower_id, SubjectLinkRow.contact_id == contact_id))
    relation = None if row is None else _relation(session, rt, row)
    if relation is not None:
        _record(session, rt, who, borrower_id, purpose, reason, 1)
    return relation


def contact_ids_of(session: Session, borrower_id: str) -> list[str]:
    """Ids of a borrower's emergency contacts not crypto-shredded, oldest link first; opens nothing."""
    return list(
        session.scalars(
            select(SubjectLinkRow.contact_id)
            .join(SubjectRow, SubjectRow.id == SubjectLinkRow.contact_id)
            .where(SubjectLinkRow.borrower_id == borrower_id, SubjectRow.status != "shredded")
            .order_by(SubjectLinkRow.id)
        )
    )


def borrowers_of(session: Session, contact_id: str) -> list[str]:
    """The borrowers a subject is an emergency contact of (empty for a borrower)."""
    return list(session.scalars(select(SubjectLinkRow.borrower_id).where(SubjectLinkRow.contact_id == contact_id)))
