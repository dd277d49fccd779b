"""Call recordings and visit media: sealed under the borrower's key in a blob store on the file
system, their SHA-256 in the ledger, kept for the configured period (NIFA 2018: at least five
years), and given to the borrower through a rights request (R11). Also the adapter's signed
callbacks that report how a call ended."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import uuid
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from lendshield import ledger
from lendshield.collection.errors import CallbackRefused, OutcomeConflict, RecordingInvalid
from lendshield.collection.models import ContactRow, RecordingRow
from lendshield.collection.service import get_contact, retention_until
from lendshield.errors import Forbidden, InvalidInput, PayloadTooLarge
from lendshield.principals import Principal
from lendshield.runtime import Runtime
from lendshield.subjects import records

UPLOADER_ROLES = frozenset({"telephony"})
CALLBACK_SECRET = "collection/adapter-callbacks"
_MEDIA = re.compile(r"^(audio|video|image)/[a-z0-9.+-]{1,40}$")
FINAL_OUTCOMES = frozenset({"connected", "unanswered", "failed"})


def blob_dir(rt: Runtime) -> Path:
    path = rt.settings.resolved_collection_blob_dir()
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def upload(session: Session, rt: Runtime, who: Principal, contact_id: str, data: bytes, media_type: str) -> RecordingRow:
    """Store a recording of a contact. The adapter (role ``telephony``) or the contact's collector."""
    contact = get_contact(session, contact_id)
    if not (who.roles & UPLOADER_ROLES or contact.collector_id == who.id or who.id in contact.participants):
        raise Forbidden("only the telephony adapter or the collector of this contact may upload its recording")
    if contact.outcome == "blocked":
        raise RecordingInvalid("a blocked contact has no recording")
    if not _MEDIA.match(media_type):
        raise RecordingInvalid("content-type must be an audio, video or image media type")
    if not data:
        raise RecordingInvalid("the recording is empty")
    if len(data) > rt.settings.collection_max_recording_bytes:
        raise PayloadTooLarge(f"recordings are limited to {rt.settings.collection_max_recording_bytes} bytes")
    rid = str(uuid.uuid4())
    digest = hashlib.sha256(data).hexdigest()
    sealed = records.seal_record(session, rt, contact.borrower_id, f"recording:{rid}", data)
    name = f"{rid}.sealed"
    _write_atomically(blob_dir(rt) / name, sealed)
    now = rt.clock.now()
    seq = ledger.append(
        session,
        ledger.Entry(
            time=now,
            actor=who.id,
            action="collection.recording",
            object=f"recording:{rid}",
            subject_ref=ledger.subject_ref(rt.keys, contact.borrower_id),
            details={"contact": contact.id, "sha256": digest, "size": len(data), "media_type": media_type},
        ),
    )
    row = RecordingRow(
        id=rid,
        contact_id=contact.id,
        borrower_id=contact.borrower_id,
        media_type=media_type,
        size=len(data),
        sha256=digest,
        blob_name=name,
        ledger_seq=seq,
        uploaded_by=who.id,
        created_at=now,
        retain_until=now + retention_until(rt),
    )
    session.add(row)
    session.flush()
    return row


def content(session: Session, rt: Runtime, row: RecordingRow) -> bytes | None:
    """The recording in clear, or None once deleted at the end of its retention; the caller logs why."""
    if not row.blob_name:
        return None
    sealed = (blob_dir(rt) / row.blob_name).read_bytes()
    data = records.open_record(session, rt, row.borrower_id, f"recording:{row.id}", sealed)
    if hashlib.sha256(data).hexdigest() != row.sha256:
        raise RecordingInvalid("the stored recording does not match its logged hash")
    return data


def callback_signature(rt: Runtime, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over ``timestamp.body`` under the adapter's callback secret (hex)."""
    return hmac.new(rt.keys.secret(CALLBACK_SECRET), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify_callback(rt: Runtime, timestamp: str, signature: str, body: bytes) -> None:
    """Refuse a callback that is unsigned, forged, or older than the allowed age (a replay)."""
    try:
        sent = datetime.fromtimestamp(int(timestamp), tz=rt.clock.now().tzinfo)
    except (ValueError, OverflowError, OSError) as exc:
        raise CallbackRefused("the callback's timestamp is missing or malformed") from exc
    expected = callback_signature(rt, timestamp, body)
    if not hmac.compare_digest(expected, signature.strip().lower()):
        raise CallbackRefused("the callback's signature does not verify")
    age = abs((rt.clock.now() - sent).total_seconds())
    if age > rt.settings.collection_callback_max_age_s:
        raise CallbackRefused("the callback is too old or from the future (replay refused)")


def record_outcome(session: Session, rt: Runtime, who: Principal, contact_id: str, outcome: str, duration_s: int) -> ContactRow:
    """How a bridged call ended, reported by the adapter. Idempotent for the same outcome."""
    if not who.roles & UPLOADER_ROLES:
        raise Forbidden("only the telephony adapter reports call outcomes")
    if outcome not in FINAL_OUTCOMES:
        raise InvalidInput(f"outcome must be one of {', '.join(sorted(FINAL_OUTCOMES))}", path="outcome")
    if not 0 <= duration_s <= 86_400:
        raise InvalidInput("duration_s: 0 to 86400", path="duration_s")
    contact = get_contact(session, contact_id)
    if contact.channel != "call" or contact.outcome == "blocked":
        raise OutcomeConflict("only a bridged call has an outcome")
    if contact.outcome in FINAL_OUTCOMES:
        if contact.outcome == outcome and contact.duration_s == duration_s:
            return contact
        raise OutcomeConflict("this call's outcome was already reported differently")
    contact.outcome = outcome
    contact.duration_s = duration_s
    contact.ended_at = rt.clock.now()
    ledger.append(
        session,
        ledger.Entry(
            time=rt.clock.now(),
            actor=who.id,
            action="collection.call_outcome",
            object=f"contact:{contact.id}",
            subject_ref=ledger.subject_ref(rt.keys, contact.borrower_id),
            details={"outcome": outcome, "duration_s": duration_s},
        ),
    )
    return contact


def purge_expired(session: Session, rt: Runtime, *, legal_hold: Callable[[Session, str], bool] | None = None) -> int:
    """Delete recordings past their retention date (PIPL Art. 19: no longer than needed).

    A recording of a borrower under a legal hold is kept until the hold ends. The row and its
    ledger entry's hash stay as the record that a recording existed; the sealed file goes.
    """
    now = rt.clock.now()
    held = legal_hold or (lambda s, borrower_id: _rights_hold(s, borrower_id, now.date()))
    gone = 0
    for row in session.scalars(select(RecordingRow).where(RecordingRow.retain_until <= now, RecordingRow.blob_name != "")):
        if held(session, row.borrower_id):
            continue
        (blob_dir(rt) / row.blob_name).unlink(missing_ok=True)
        row.blob_name = ""
        ledger.append(
            session,
            ledger.Entry(
                time=now,
                actor="system",
                action="collection.recording_deleted",
                object=f"recording:{row.id}",
                subject_ref=ledger.subject_ref(rt.keys, row.borrower_id),
                reason="retention period ended",
                details={"sha256": row.sha256},
            ),
        )
        gone += 1
    return gone


def _rights_hold(session: Session, borrower_id: str, on: date) -> bool:
    try:
        from lendshield.rights.holds import active_holds
    except ImportError:
        return False
    return bool(active_holds(session, borrower_id, on))


def purge_job(rt: Runtime) -> int:
    with rt.sessions() as session:
        gone = purge_expired(session, rt)
        session.commit()
    return gone
