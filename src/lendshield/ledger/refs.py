"""Subject references: a keyed hash of the subject id, so the log never carries the id."""

from __future__ import annotations

from lendshield.crypto import KeyProvider, keyed_digest

SUBJECT_REF_SECRET = "ledger/subject-ref"


def subject_ref(keys: KeyProvider, subject_id: str) -> str:
    return keyed_digest(keys.secret(SUBJECT_REF_SECRET), "subject", subject_id).hex()
