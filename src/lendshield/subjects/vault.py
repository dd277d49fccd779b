"""Low-level vault operations on one subject's keys and ciphertexts (no policy, no ledger).

Only this module and ``service`` handle clear personal values.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from lendshield.crypto import FieldCipher, KeyProvider, keyed_digest, new_data_key, unwrap_data_key, wrap_data_key
from lendshield.subjects.errors import SubjectNotFound, SubjectShredded
from lendshield.subjects.keycache import DataKeyCache
from lendshield.subjects.models import SubjectKeyRow, SubjectRow

BLIND_INDEX_SECRET = "vault/blind-index"
TOKEN_SECRET = "vault/token-value"


def live_subject(session: Session, subject_id: str) -> SubjectRow:
    row = session.get(SubjectRow, subject_id) if len(subject_id) <= 36 else None
    if row is None:
        raise SubjectNotFound()
    if row.status == "shredded":
        raise SubjectShredded(row.shred_reason or "deleted")
    return row


def new_key(session: Session, keys: KeyProvider, subject_id: str) -> FieldCipher:
    dek = new_data_key()
    version, wrapped = wrap_data_key(keys, subject_id, dek)
    session.add(SubjectKeyRow(subject_id=subject_id, kek_version=version, wrapped=wrapped))
    return FieldCipher(subject_id, dek)


def cipher_for(session: Session, keys: KeyProvider, cache: DataKeyCache, subject_id: str) -> FieldCipher:
    row = session.scalar(select(SubjectKeyRow).where(SubjectKeyRow.subject_id == subject_id))
    if row is None:
        raise SubjectShredded("deleted")
    dek = cache.get(row.wrapped)
    if dek is None:
        dek = unwrap_data_key(keys, subject_id, row.kek_version, row.wrapped)
        cache.put(row.wrapped, dek)
    return FieldCipher(subject_id, dek)


def blind_index(keys: KeyProvider, field: str, normalised: str) -> bytes:
    """HMAC-SHA256 under its own key over the normalised value: exact lookup without decrypting."""
    return keyed_digest(keys.secret(BLIND_INDEX_SECRET), field, normalised)


def value_digest(keys: KeyProvider, subject_id: str, field: str, value: str) -> bytes:
    return keyed_digest(keys.secret(TOKEN_SECRET), subject_id, field, value)
