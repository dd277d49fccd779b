"""Low-level vault operations on one subject's keys and ciphertexts (no policy, no ledger).

Only this module and ``service`` handle clear personal values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import bindparam, exists, or_, select
from sqlalchemy.orm import Session

from lendshield.crypto import FieldCipher, KeyProvider, keyed_digest, new_data_key, unwrap_data_key, wrap_data_key
from lendshield.ledger.prepared import Prepared
from lendshield.rights.models import HoldRow
from lendshield.subjects.errors import SubjectNotFound, SubjectShredded
from lendshield.subjects.keycache import DataKeyCache
from lendshield.subjects.models import FieldValueRow, SubjectKeyRow, SubjectRow

BLIND_INDEX_SECRET = "vault/blind-index"
TOKEN_SECRET = "vault/token-value"


def live_subject(session: Session, subject_id: str) -> SubjectRow:
    row = session.get(SubjectRow, subject_id) if len(subject_id) <= 36 else None
    if row is None:
        raise SubjectNotFound()
    if row.status == "shredded":
        raise SubjectShredded(row.shred_reason or "deleted")
    return row


@dataclass(frozen=True, slots=True)
class Loaded:
    """What a read needs, fetched in one statement: kind, wrapped key, current ciphertexts, and
    whether a hold or restriction may be in force (then the gate asks ``rights.holds`` why)."""

    kind: str
    kek_version: str | None
    wrapped: bytes | None
    fields: dict[str, tuple[int, bytes]]
    held: bool = True


# Whether any hold is in force on ``day``: the condition of ``rights.holds.restriction_for``, which
# the gate still calls (for the reason and the purposes a hold allows) when this is true. Almost
# nobody is held, so the read saves that statement. Not correlated: computed once per load.
_HELD = exists().where(
    HoldRow.subject_id == bindparam("sid"),
    HoldRow.lifted_at.is_(None),
    or_(HoldRow.ends_on.is_(None), HoldRow.ends_on >= bindparam("day")),
)

# One Core statement per read (no ORM objects on the hot path), run on the session's cursor: the
# subject, its wrapped key, its current field ciphertexts (strings, integers and bytes only) and
# the hold flag.
_LOAD = Prepared(
    select(
        SubjectRow.kind,
        SubjectRow.status,
        SubjectRow.shred_reason,
        SubjectKeyRow.kek_version,
        SubjectKeyRow.wrapped,
        _HELD.label("held"),
        FieldValueRow.field,
        FieldValueRow.version,
        FieldValueRow.ciphertext,
    )
    .select_from(SubjectRow)
    .outerjoin(SubjectKeyRow, SubjectKeyRow.subject_id == SubjectRow.id)
    .outerjoin(FieldValueRow, (FieldValueRow.subject_id == SubjectRow.id) & FieldValueRow.current.is_(True))
    .where(SubjectRow.id == bindparam("sid"))
)


def load_for_read(session: Session, subject_id: str, day: date) -> Loaded:
    """The subject's read material; ``day`` is today's date for the hold check."""
    if len(subject_id) > 36:
        raise SubjectNotFound()
    if (session.in_transaction() or len(session.identity_map)) and (session.new or session.dirty or session.deleted):
        session.flush()  # Core reads bypass autoflush (nothing can be pending in an unused session)
    rows = _LOAD.run(session, {"sid": subject_id, "day": day})
    if not rows:
        raise SubjectNotFound()
    kind, status, shred_reason, kek_version, wrapped, held, _f, _v, _c = rows[0]
    if status == "shredded":
        raise SubjectShredded(shred_reason or "deleted")
    fields = {f: (v, bytes(c)) for *_, f, v, c in rows if f is not None}
    wrapped_key = None if wrapped is None else bytes(wrapped)
    return Loaded(kind=kind, kek_version=kek_version, wrapped=wrapped_key, fields=fields, held=bool(held))


def cipher_from_loaded(keys: KeyProvider, cache: DataKeyCache, loaded: Loaded, subject_id: str) -> FieldCipher:
    if loaded.wrapped is None or loaded.kek_version is None:
        raise SubjectShredded("deleted")
    kek_version, wrapped = loaded.kek_version, loaded.wrapped
    return cache.cipher(subject_id, wrapped, lambda: unwrap_data_key(keys, subject_id, kek_version, wrapped))


def new_key(session: Session, keys: KeyProvider, subject_id: str) -> FieldCipher:
    """A fresh data key for a new subject, wrapped under the current KEK, its row written now."""
    dek = new_data_key()
    version, wrapped = wrap_data_key(keys, subject_id, dek)
    row = SubjectKeyRow(subject_id=subject_id, kek_version=version, wrapped=wrapped)
    session.add(row)
    settle_wrapped(session, keys, [(row, dek)])
    return FieldCipher(subject_id, dek)


def settle_wrapped(session: Session, keys: KeyProvider, wrapped: Sequence[tuple[SubjectKeyRow, bytes]]) -> int:
    """Write rows whose data key was just wrapped, then make sure their KEK was not retired meanwhile.

    Every place that wraps a data key into a ``subject_keys`` row (a new subject, a re-wrap) calls
    this with the rows and their clear data keys, in the same transaction. The rows are flushed
    first (the INSERT or UPDATE executes now, not at commit); only then is the key store asked,
    afresh, which KEK versions it still has. A row whose version is gone is wrapped again under
    the current KEK, the same data key, in the same transaction. Returns how many were re-wrapped.

    Why this closes the race with ``rotation.retire`` (which removes a KEK from the key store
    before it commits, and refuses while any row is under the version):

    - PostgreSQL: retire holds ``LOCK TABLE subject_keys IN SHARE MODE`` from before its count
      until it commits; our INSERT/UPDATE needs ROW EXCLUSIVE, which conflicts. Either our
      statement ran first (then retire's lock waits for our commit and its count sees our row
      under the old version and refuses; the KEK stays), or retire's lock came first (then our
      statement waits until retire has committed, by which time the KEK is out of the key store,
      so the check below sees it gone and re-wraps). Once our statement has run we hold ROW
      EXCLUSIVE until commit, so no retirement can start between the check and our commit.
    - SQLite: every transaction begins with ``BEGIN IMMEDIATE`` and holds the write lock to its
      end, so retire's transaction (count, key removal, commit) runs wholly before ours took the
      lock (the check sees the KEK gone, even when the wrap itself happened before our
      transaction began) or wholly after our commit (its count sees our row and refuses).
    """
    session.flush()
    if not wrapped:
        return 0
    live = set(keys.kek_versions())  # read afresh: another process may have retired a KEK
    stale = [(row, dek) for row, dek in wrapped if row.kek_version not in live]
    for row, dek in stale:
        row.kek_version, row.wrapped = wrap_data_key(keys, row.subject_id, dek)
    if stale:
        session.flush()
    return len(stale)


def cipher_for(session: Session, keys: KeyProvider, cache: DataKeyCache, subject_id: str) -> FieldCipher:
    row = session.scalar(select(SubjectKeyRow).where(SubjectKeyRow.subject_id == subject_id))
    if row is None:
        raise SubjectShredded("deleted")
    kek_version, wrapped = row.kek_version, bytes(row.wrapped)
    return cache.cipher(subject_id, wrapped, lambda: unwrap_data_key(keys, subject_id, kek_version, wrapped))


def blind_index(keys: KeyProvider, field: str, normalised: str) -> bytes:
    """HMAC-SHA256 under its own key over the normalised value: exact lookup without decrypting."""
    return keyed_digest(keys.secret(BLIND_INDEX_SECRET), field, normalised)


def value_digest(keys: KeyProvider, subject_id: str, field: str, value: str) -> bytes:
    return keyed_digest(keys.secret(TOKEN_SECRET), subject_id, field, value)
