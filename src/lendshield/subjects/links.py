"""Links between borrowers and their emergency contacts.

The link keeps the two ids in clear (the watch and collection need to know whose contact someone
is) and the relation (配偶, 父母, 同事 ...) sealed under the contact's own data key: it is personal
data about both people (the catalog's ``relationship`` category), so it is encrypted like any field
and crypto-shredding the contact makes it unreadable. The seal is bound to the contact and to the
borrower, so a relation copied to another link fails to open.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from lendshield.crypto import FieldCipher
from lendshield.runtime import Runtime
from lendshield.subjects import vault
from lendshield.subjects.errors import SubjectShredded
from lendshield.subjects.models import SubjectLinkRow

RELATION_CATEGORY = "relationship"


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


def contacts_of(session: Session, rt: Runtime, borrower_id: str) -> list[tuple[str, str]]:
    """(contact id, relation) of a borrower's emergency contacts, oldest link first.

    A crypto-shredded contact is left out: nobody can be reached, or told about, through them.
    """
    out = []
    for row in session.scalars(select(SubjectLinkRow).where(SubjectLinkRow.borrower_id == borrower_id).order_by(SubjectLinkRow.id)):
        relation = _relation(session, rt, row)
        if relation is not None:
            out.append((row.contact_id, relation))
    return out


def relation_of(session: Session, rt: Runtime, borrower_id: str, contact_id: str) -> str | None:
    """How a contact is linked to a borrower; None when not linked (or the contact was shredded)."""
    row = session.scalar(select(SubjectLinkRow).where(SubjectLinkRow.borrower_id == borrower_id, SubjectLinkRow.contact_id == contact_id))
    return None if row is None else _relation(session, rt, row)


def borrowers_of(session: Session, contact_id: str) -> list[str]:
    """The borrowers a subject is an emergency contact of (empty for a borrower)."""
    return list(session.scalars(select(SubjectLinkRow.borrower_id).where(SubjectLinkRow.contact_id == contact_id)))
