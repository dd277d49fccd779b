"""Vault checks used by restore drills: sample decryption and re-applying later crypto-shreds.

They live here because only `subjects` may decrypt personal fields or destroy data keys.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from lendshield import ledger
from lendshield.crypto import DecryptionFailed
from lendshield.runtime import Runtime
from lendshield.subjects import vault
from lendshield.subjects.errors import SubjectShredded
from lendshield.subjects.models import BlindIndexRow, FieldValueRow, SubjectKeyRow, SubjectRow, TokenRow


@dataclass
class SampleResult:
    subjects: int = 0
    fields: int = 0
    failures: list[str] = field(default_factory=list)


def sample_decrypt(session: Session, rt: Runtime, n: int, rng: random.Random) -> SampleResult:
    """Decrypt every current field of up to ``n`` random live subjects; values are discarded."""
    ids = list(session.scalars(select(SubjectRow.id).where(SubjectRow.status == "active").order_by(SubjectRow.id)))
    result = SampleResult()
    for sid in rng.sample(ids, min(n, len(ids))):
        try:
            cipher = vault.cipher_for(session, rt.keys, rt.dek_cache, sid)
            rows = session.scalars(select(FieldValueRow).where(FieldValueRow.subject_id == sid, FieldValueRow.current.is_(True)))
            for row in rows:
                cipher.decrypt(row.field, row.version, row.ciphertext)
                result.fields += 1
        except (DecryptionFailed, SubjectShredded) as exc:
            result.failures.append(f"subject {sid}: {exc.code}")
        result.subjects += 1
    return result


def reapply_shreds(session: Session, rt: Runtime, refs: Iterable[str], reason: str) -> list[str]:
    """Crypto-shred every subject whose ledger reference is in ``refs`` (shreds made after a backup)."""
    wanted = set(refs)
    if not wanted:
        return []
    done = []
    for sid in session.scalars(select(SubjectRow.id).where(SubjectRow.status == "active")):
        if ledger.subject_ref(rt.keys, sid) in wanted:
            done.append(sid)
    for sid in done:
        session.execute(delete(SubjectKeyRow).where(SubjectKeyRow.subject_id == sid))
        session.execute(delete(BlindIndexRow).where(BlindIndexRow.subject_id == sid))
        session.execute(delete(TokenRow).where(TokenRow.subject_id == sid))
        session.execute(
            update(SubjectRow).where(SubjectRow.id == sid).values(status="shredded", shredded_at=rt.clock.now(), shred_reason=reason)
        )
    return done


def readable(session: Session, rt: Runtime, subject_id: str) -> bool:
    """Whether any field of the subject can still be decrypted (a shredded one must answer False)."""
    try:
        cipher = vault.cipher_for(session, rt.keys, rt.dek_cache, subject_id)
    except SubjectShredded:
        return False
    for row in session.scalars(select(FieldValueRow).where(FieldValueRow.subject_id == subject_id)):
        try:
            cipher.decrypt(row.field, row.version, row.ciphertext)
            return True
        except DecryptionFailed:
            continue
    return False
