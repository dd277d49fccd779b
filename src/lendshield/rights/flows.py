"""Fulfilling a verified request: across subjects (the vault), consent, holds and the ledger.

The officer's ``fulfil`` is the staff approval the law expects for corrections and deletions;
each outcome is written on the request for the person to read and in the ledger.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from lendshield.accounts.models import AccountRow
from lendshield.consent import service as consent
from lendshield.consent.errors import ConsentNotGiven
from lendshield.consent.gate import latest
from lendshield.loans.models import LoanRow
from lendshield.principals import Principal
from lendshield.rights import decisions, holds, package, retention
from lendshield.rights import service as svc
from lendshield.rights.errors import DeletionBlocked, WrongState
from lendshield.rights.models import RightsRequestRow, TombstoneRow
from lendshield.rights.params import DELETION_GROUNDS
from lendshield.runtime import Runtime
from lendshield.subjects import service as subjects
from lendshield.subjects.errors import SubjectShredded
from lendshield.subjects.links import borrowers_of
from lendshield.subjects.records import open_record, seal_record

# Grounds only a person can judge (the officer writes the finding); the others are checked here.
JUDGED_GROUNDS = frozenset({"purpose_impossible", "purpose_unneeded", "unlawful_processing", "other_law"})


def _sealed(session: Session, rt: Runtime, row: RightsRequestRow) -> dict[str, str]:
    if row.sealed is None:
        return {}
    data: dict[str, str] = json.loads(open_record(session, rt, row.subject_id, f"rights:{row.id}", row.sealed))
    return data


def _open_loans(session: Session, subject_id: str) -> int:
    return len(list(session.scalars(select(LoanRow.id).where(LoanRow.borrower_id == subject_id, LoanRow.status != "paid_off"))))


def ground_unmet(session: Session, rt: Runtime, row: RightsRequestRow, finding: str | None) -> str | None:
    """Why the ground for deletion does not hold, or None when it does (PIPL Art. 47)."""
    ground = row.params["ground"]
    loans = _open_loans(session, row.subject_id)
    if ground in JUDGED_GROUNDS:
        if len((finding or "").strip()) < svc.MIN_REASON:
            return f"the ground '{ground}' needs the officer's written finding (outcome)"
        return None
    if ground in ("purpose_achieved", "service_ended") and loans:
        return f"{loans} loan(s) are not paid off: the contract is still being performed (PIPL Art. 13(2))"
    if ground == "consent_withdrawn":
        granted = [
            p.id
            for p in rt.policy.purposes.by_id.values()
            if p.needs_consent and (state := latest(session, row.subject_id, p.id, "purpose")) is not None and state.action == "grant"
        ]
        if granted:
            return f"consent is still given for {', '.join(sorted(granted))}; withdraw it first (a withdrawal request)"
        if loans:
            return f"{loans} loan(s) are not paid off: their data rests on the contract, not on consent (PIPL Art. 13(2))"
    if ground == "retention_expired":
        needed = retention.purposes_needing(session, rt, row.subject_id, rt.clock.now(), excluding_request=row.id)
        if needed:
            return f"still needed by {', '.join(needed)} within their retention periods (PIPL Art. 19)"
    if ground == "account_cancelled":
        active = session.scalar(select(AccountRow.id).where(AccountRow.subject_id == row.subject_id, AccountRow.active.is_(True)))
        if active is not None:
            return "the person's portal account is still active; cancel it first"
    return None


def erase(session: Session, rt: Runtime, who: Principal, subject_id: str, *, ground: str, request_id: str | None, reason: str) -> list[str]:
    """Crypto-shred the person, and their emergency contacts no other borrower names, with a
    tombstone each. Returns the ids erased."""
    erased = []
    # Only the contacts' ids are needed: their relations stay sealed (nothing opened, nothing to
    # record beyond the shredding and tombstones below).
    contacts = subjects.contact_ids_of(session, subject_id)
    targets = [subject_id] + [c for c in contacts if borrowers_of(session, c) == [subject_id]]
    for target in targets:
        try:
            subjects.require_live(session, target)
        except SubjectShredded:
            continue
        subjects.shred(session, rt, who, target, reason=reason)
        seq = svc.record_raw(session, rt, who, "rights.tombstone", target, details={"ground": ground, "request_id": request_id})
        session.add(
            TombstoneRow(
                subject_id=target, deleted_at=rt.clock.now(), ground=ground, request_id=request_id, deleted_by=who.id, ledger_seq=seq
            )
        )
        erased.append(target)
    session.flush()
    return erased


def _deletion(session: Session, rt: Runtime, who: Principal, row: RightsRequestRow, finding: str | None) -> None:
    problem = ground_unmet(session, rt, row, finding)
    if problem is not None:
        raise DeletionBlocked(f"the deletion ground is not met: {problem}; refuse the request with a reason or fix the cause")
    hold = holds.deletion_blocker(session, rt, row.subject_id)
    if hold is not None:
        # Art. 47 second paragraph: kept by law, so storage and security only until the hold ends.
        ends = hold.ends_on.isoformat() if hold.ends_on else "the hold is lifted"
        svc.answer(row, rt, "held", f"deletion postponed until {ends}: {hold.reason}. Until then your data is kept for storage only.")
        row.params = {**row.params, "hold_id": hold.id}
        svc.record(session, rt, who, "rights.deletion_held", row, decision="held", details={"hold_id": hold.id, "ends_on": ends})
        return
    ground = row.params["ground"]
    erased = erase(
        session, rt, who, row.subject_id, ground=ground, request_id=row.id, reason=f"deletion request {row.id}: {DELETION_GROUNDS[ground]}"
    )
    svc.answer(row, rt, "fulfilled", "your personal data was deleted (crypto-shredded); a tombstone without personal data remains")
    svc.record(session, rt, who, "rights.fulfil", row, decision="deleted", details={"erased": len(erased), "ground": ground})


def withdraw(session: Session, rt: Runtime, who: Principal, row: RightsRequestRow) -> None:
    """Record a withdrawal per purpose (the person's own portal principal may, PIPL Art. 15)."""
    done, nothing = [], []
    for purpose in row.params["purposes"]:
        try:
            consent.record(
                session, rt, who, row.subject_id, purpose=purpose, action="withdraw", channel="web" if row.channel == "portal" else "staff"
            )
            done.append(purpose)
        except ConsentNotGiven:
            nothing.append(purpose)
    parts = [f"consent withdrawn for {', '.join(done)} (effective now; past processing stays lawful, PIPL Art. 15)"] if done else []
    if nothing:
        parts.append(f"no consent was on record for {', '.join(nothing)}")
    svc.answer(row, rt, "fulfilled", "; ".join(parts))
    svc.record(session, rt, who, "rights.fulfil", row, decision="withdrawn", details={"withdrawn": done, "none_on_record": nothing})


def fulfil(session: Session, rt: Runtime, who: Principal, request_id: str, *, outcome: str | None = None) -> svc.RequestView:
    """Carry out a verified request. ``outcome`` is the officer's written answer where one is
    needed (a report, a human review, a deletion ground only a person can judge)."""
    svc.require_worker(rt, who)
    row = svc.load(session, request_id)
    if row.status not in ("open", "in_progress"):
        raise WrongState(
            "verify the person's identity first" if row.status == "unverified" else f"a request that is {row.status} cannot be fulfilled"
        )
    if row.owner_id is None:
        row.owner_id = who.id
    if row.type in ("access", "portability"):
        blob = package.build(session, rt, who, row)
        row.package = seal_record(session, rt, row.subject_id, f"rights-package:{row.id}", blob)
        row.package_sha256 = hashlib.sha256(blob).hexdigest()
        svc.answer(row, rt, "fulfilled", "your copy is ready to download")
        svc.record(
            session, rt, who, "rights.fulfil", row, decision="package", details={"package_sha256": row.package_sha256, "bytes": len(blob)}
        )
    elif row.type == "correction":
        name = row.params["field"]
        version = subjects.correct_field(
            session,
            rt,
            who,
            row.subject_id,
            name,
            _sealed(session, rt, row)["new_value"],
            reason=f"correction request {row.id} (PIPL Art. 46)",
        )
        svc.answer(row, rt, "fulfilled", f"{name} corrected; the previous value is kept encrypted for the record")
        svc.record(session, rt, who, "rights.fulfil", row, decision="corrected", details={"field": name, "version": version})
    elif row.type == "deletion":
        _deletion(session, rt, who, row, outcome)
    elif row.type == "withdrawal":
        withdraw(session, rt, who, row)
    elif row.type == "restriction":
        ends = row.params.get("ends_on")
        ends_on = dt.date.fromisoformat(ends) if ends else None
        hold = holds.place(
            session,
            rt,
            who,
            row.subject_id,
            kind="restriction",
            reason=f"restriction request {row.id} (PIPL Art. 44)",
            ends_on=ends_on,
            request_id=row.id,
        )
        until = f" until {ends}" if ends else " until you lift it"
        svc.answer(row, rt, "fulfilled", f"processing of your data is restricted to storage only{until}")
        svc.record(session, rt, who, "rights.fulfil", row, decision="restricted", details={"hold_id": hold.id})
    else:
        text = svc.require_reason(outcome, "this answer")
        if row.type == "explanation" and row.params.get("human_review", True):
            decisions.set_review(session, rt, who, row.params["decision_id"], text)
        svc.answer(row, rt, "fulfilled", text)
        svc.record(session, rt, who, "rights.fulfil", row, decision="answered")
    return svc.view_of(row)


def download_package(session: Session, rt: Runtime, who: Principal, request_id: str) -> tuple[str, bytes]:
    """The fulfilled package (for its person or the officers), with the file name to give it."""
    row = svc.load_for(session, rt, who, request_id, action="rights.download")
    if who.kind != "borrower":
        svc.require_worker(rt, who)
    if row.package is None:
        raise WrongState("this request has no package (not fulfilled yet, or removed after the retention period)")
    blob = open_record(session, rt, row.subject_id, f"rights-package:{row.id}", row.package)
    svc.record(session, rt, who, "rights.download", row, details={"package_sha256": row.package_sha256})
    return f"lendshield-{row.type}-{row.id}.zip", blob
