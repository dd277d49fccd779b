"""Subject references: a keyed hash of the subject id, so the log never carries the id."""

from __future__ import annotations

from functools import lru_cache

from lendshield.crypto import KeyProvider, keyed_digest

SUBJECT_REF_SECRET = "ledger/subject-ref"


def subject_ref(keys: KeyProvider, subject_id: str) -> str:
    return _ref(keys.secret(SUBJECT_REF_SECRET), subject_id)


# A pure function of the secret and the id (every read writes one); keyed by the secret itself,
# so another key file or provider never gets a reference made under a different secret.
@lru_cache(maxsize=16_384)
def _ref(secret: bytes, subject_id: str) -> str:
    return keyed_digest(secret, "subject", subject_id).hex()
