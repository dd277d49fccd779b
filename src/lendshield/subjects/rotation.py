"""KEK rotation and retirement: two steps, so that no data key is ever left under a retired KEK.

``lendshield keys rotate`` makes a new KEK current (``start_rotation``) and re-wraps every data
key under it in resumable batches (``rewrap_batch``); the old KEK stays. A process that wrapped a
data key under the old KEK just before the rotation took effect may commit it after the re-wrap
has passed: had the rotation retired the old KEK at its end, that data key would be unreadable.
``lendshield keys retire VERSION`` comes later: it re-wraps what is left (``rewrap_batch`` again),
then ``retire`` refuses while anything is still wrapped under the version, refuses the current
one, and only then removes it from the key store. Both are in the ledger.

Every transaction that writes a wrapped data key (``vault.new_key`` for a new subject,
``rewrap_batch``) goes through ``vault.settle_wrapped``: the row is written first, then its KEK
version is checked against the key store and re-wrapped under the current KEK if it was retired
in between. With ``_hold_writers`` below, no data key can end up under a retired KEK.
"""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from lendshield import ledger
from lendshield.crypto import KeyUnavailable, unwrap_data_key, wrap_data_key
from lendshield.errors import Conflict
from lendshield.principals import Principal
from lendshield.runtime import Runtime
from lendshield.subjects import vault
from lendshield.subjects.models import SubjectKeyRow


class KekRetireRefused(Conflict):
    code = "kek-retire-refused"


def keys_needing_rewrap(session: Session, rt: Runtime) -> int:
    current = rt.keys.current_kek_version()
    return session.scalar(select(func.count()).select_from(SubjectKeyRow).where(SubjectKeyRow.kek_version != current)) or 0


def wrapped_under(session: Session, version: str) -> int:
    """How many data keys are wrapped under KEK ``version``."""
    return session.scalar(select(func.count()).select_from(SubjectKeyRow).where(SubjectKeyRow.kek_version == version)) or 0


def kek_usage(session: Session, rt: Runtime) -> dict[str, int]:
    """Data keys per KEK version the key store still has (versions nothing uses count 0)."""
    used = {str(v): int(n) for v, n in session.execute(select(SubjectKeyRow.kek_version, func.count()).group_by(SubjectKeyRow.kek_version))}
    return {v: used.get(v, 0) for v in rt.keys.kek_versions()}


def rewrap_batch(session: Session, rt: Runtime, limit: int = 500) -> int:
    """Re-wrap up to ``limit`` data keys that are not under the current KEK; returns how many.

    Each batch is its own unit of work, so an interrupted rotation resumes where it stopped.
    """
    current = rt.keys.current_kek_version()
    rows = session.scalars(
        select(SubjectKeyRow).where(SubjectKeyRow.kek_version != current).order_by(SubjectKeyRow.subject_id).limit(limit)
    ).all()
    done = []
    for row in rows:
        dek = unwrap_data_key(rt.keys, row.subject_id, row.kek_version, row.wrapped)
        row.kek_version, row.wrapped = wrap_data_key(rt.keys, row.subject_id, dek)
        done.append((row, dek))
    # The UPDATEs run now, then the versions are checked against the key store: a KEK retired
    # while this batch was wrapping under it (a rotation and a retirement in between) is not
    # left on a row (see ``vault.settle_wrapped``).
    vault.settle_wrapped(session, rt.keys, done)
    return len(rows)


def _hold_writers(session: Session) -> None:
    """Wait for transactions that are writing data keys, and keep new ones out until commit.

    A data key wrapped under the old KEK by a transaction still open is not visible to a count;
    PostgreSQL's SHARE lock waits for such writers to commit (and blocks new ones until this
    transaction ends), so the count below sees them. SQLite's ``BEGIN IMMEDIATE`` already makes
    this transaction wait for every other writer.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE subject_keys IN SHARE MODE"))


def retire(session: Session, rt: Runtime, who: Principal, version: str) -> None:
    """Retire KEK ``version``: refused for the current KEK and while any data key is still under it.

    The caller re-wraps first (``rewrap_batch`` until nothing is left), then calls this in its
    own unit of work and commits.
    """
    version = version.strip()
    current = rt.keys.current_kek_version()
    if version == current:
        raise KekRetireRefused(f"KEK version {version} is the current one; rotate to a new KEK before retiring it")
    if version not in rt.keys.kek_versions():
        raise KekRetireRefused(f"KEK version {version} is not in the key store (unknown or already retired)")
    _hold_writers(session)
    left = wrapped_under(session, version)
    if left:
        raise KekRetireRefused(f"{left} data keys are still wrapped under KEK version {version}; re-wrap them first")
    ledger.append(
        session,
        ledger.Entry(
            time=rt.clock.now(),
            actor=who.id,
            action="keys.retire",
            object="kek",
            details={"versions": [version], "current": current},
        ),
    )
    session.flush()
    try:
        rt.keys.retire_kek(version)  # last: a refusal by the key store leaves no ledger entry
    except KeyUnavailable as exc:
        raise KekRetireRefused(exc.detail) from exc


def start_rotation(session: Session, rt: Runtime, who: Principal) -> str:
    version = rt.keys.add_kek()
    ledger.append(
        session,
        ledger.Entry(
            time=rt.clock.now(),
            actor=who.id,
            action="keys.rotate",
            object="kek",
            details={"new_version": version},
        ),
    )
    return version
