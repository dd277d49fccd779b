"""KEK rotation: re-wrap every data key under the current KEK, in resumable batches."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lendshield import ledger
from lendshield.crypto import unwrap_data_key, wrap_data_key
from lendshield.principals import Principal
from lendshield.runtime import Runtime
from lendshield.subjects.models import SubjectKeyRow


def keys_needing_rewrap(session: Session, rt: Runtime) -> int:
    current = rt.keys.current_kek_version()
    return session.scalar(select(func.count()).select_from(SubjectKeyRow).where(SubjectKeyRow.kek_version != current)) or 0


def rewrap_batch(session: Session, rt: Runtime, limit: int = 500) -> int:
    """Re-wrap up to ``limit`` data keys that are not under the current KEK; returns how many.

    Each batch is its own unit of work, so an interrupted rotation resumes where it stopped.
    """
    current = rt.keys.current_kek_version()
    rows = session.scalars(
        select(SubjectKeyRow).where(SubjectKeyRow.kek_version != current).order_by(SubjectKeyRow.subject_id).limit(limit)
    ).all()
    for row in rows:
        dek = unwrap_data_key(rt.keys, row.subject_id, row.kek_version, row.wrapped)
        row.kek_version, row.wrapped = wrap_data_key(rt.keys, row.subject_id, dek)
    return len(rows)


def retire_unused(session: Session, rt: Runtime, who: Principal) -> list[str]:
    """Retire every KEK that no data key needs any more (never the current one)."""
    used = set(session.scalars(select(SubjectKeyRow.kek_version).distinct()))
    current = rt.keys.current_kek_version()
    retired = []
    for version in rt.keys.kek_versions():
        if version != current and version not in used:
            rt.keys.retire_kek(version)
            retired.append(version)
    if retired:
        ledger.append(
            session,
            ledger.Entry(
                time=rt.clock.now(),
                actor=who.id,
                action="keys.retire",
                object="kek",
                details={"versions": retired},
            ),
        )
    return retired


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
