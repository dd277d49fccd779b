"""Records about a subject kept outside the field catalog (call recordings, delivered messages).

They are sealed under the subject's own data key with the record's label as associated data, so
a record moved to another label or subject fails to open, and crypto-shredding the subject makes
every record about them unreadable as well. Callers write the ledger entry for each use.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from lendshield.runtime import Runtime
from lendshield.subjects import vault


def seal_record(session: Session, rt: Runtime, subject_id: str, label: str, data: bytes) -> bytes:
    vault.live_subject(session, subject_id)
    return vault.cipher_for(session, rt.keys, rt.dek_cache, subject_id).seal(label, data)


def open_record(session: Session, rt: Runtime, subject_id: str, label: str, blob: bytes) -> bytes:
    """Raises SubjectShredded once the subject's key is gone, DecryptionFailed for a wrong label or blob."""
    vault.live_subject(session, subject_id)
    return vault.cipher_for(session, rt.keys, rt.dek_cache, subject_id).open(label, blob)
