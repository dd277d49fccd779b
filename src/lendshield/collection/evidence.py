"""Collection evidence for the borrower's own copy (R11: 以便客户维护自身的合法权益).

Every contact record about the borrower — allowed or blocked, to them or to their contacts —
with the text as sent, and every recording in clear with the SHA-256 and ledger sequence that
let the borrower check it against the log. Contacts with third parties name only the relation,
never the third party's identity or number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lendshield.collection import recordings
from lendshield.collection.models import ContactRow, RecordingRow
from lendshield.principals import Principal
from lendshield.runtime import Runtime
from lendshield.subjects import records
from lendshield.subjects import service as subjects

PURPOSE = "rights_request"  # the borrower's copy of their data (PIPL Art. 45)


@dataclass(frozen=True, slots=True)
class EvidenceItem:
    record: dict[str, Any]
    files: list[tuple[str, bytes]] = field(default_factory=list)


def for_subject(session: Session, rt: Runtime, subject_id: str, *, who: Principal | str, purpose: str = PURPOSE) -> list[EvidenceItem]:
    """Everything the guard recorded about a borrower's collection, oldest first.

    Third parties are named by their relation to the borrower, opened once for the whole copy as
    ``who`` for ``purpose`` (one ``subject.relations`` ledger entry), and only when a contact
    with a third party is in it."""
    contacts = session.scalars(select(ContactRow).where(ContactRow.borrower_id == subject_id).order_by(ContactRow.created_at)).all()
    relations: dict[str, str] = {}
    if any(c.target_role != "debtor" for c in contacts):
        relations = dict(subjects.contacts_of(session, rt, subject_id, who=who, purpose=purpose))
    recs: dict[str, list[RecordingRow]] = {}
    for rec in session.scalars(select(RecordingRow).where(RecordingRow.borrower_id == subject_id).order_by(RecordingRow.created_at)):
        recs.setdefault(rec.contact_id, []).append(rec)
    out = []
    for c in contacts:
        text = records.open_record(session, rt, subject_id, f"contact:{c.id}", c.text_sealed).decode() if c.text_sealed else None
        relation = "本人" if c.target_role == "debtor" else (relations.get(c.target_id) or c.target_role)
        record: dict[str, Any] = {
            "contact_id": c.id,
            "loan_id": c.loan_id,
            "time": c.created_at.isoformat(),
            "channel": c.channel,
            "to": relation,
            "target_role": c.target_role,
            "outcome": c.outcome,
            "rule_id": c.rule_id,
            "reason": c.reason,
            "text": text,
            "text_sha256": c.text_sha256,
            "collectors": len(c.participants),
            "duration_s": c.duration_s,
            "ledger_seq": c.ledger_seq,
            "recordings": [],
        }
        files = []
        for rec in recs.get(c.id, []):
            name = f"recording-{rec.id}.{rec.media_type.split('/')[1].split('+')[0][:8]}"
            data = recordings.content(session, rt, rec)
            record["recordings"].append(
                {
                    "file": name if data is not None else None,
                    "deleted": data is None,  # past its retention period; the hash stays as the record
                    "media_type": rec.media_type,
                    "size": rec.size,
                    "sha256": rec.sha256,
                    "ledger_seq": rec.ledger_seq,
                }
            )
            if data is not None:
                files.append((name, data))
        out.append(EvidenceItem(record, files))
    return out
