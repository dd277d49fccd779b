"""Financed devices: enrolment, maker-checker lock requests, signed commands, automatic unlock.

The seed asks that every remote operation have sufficient reason and multi-level approval
(每一次远程操作都有充分理由且经过多层审批). So a lock or restriction needs a reason from the
requester and approvals from distinct people in distinct roles, none of them the requester; an
unlock after payment needs nothing and happens at once, because keeping a paid-up phone locked
harms the borrower.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lendshield import ledger
from lendshield.crypto.jws import JwsInvalid, b64url, public_raw, sign_compact, verify_compact
from lendshield.devices import notice
from lendshield.devices.errors import ApprovalRefused, DeviceConsentRequired, DeviceNotFound, PreconditionFailed, RequestClosed
from lendshield.devices.models import ApprovalRow, CommandRequestRow, CommandRow, DeviceRow
from lendshield.devices.protocol import ACK_TYP, COMMAND_TYP, NEEDS_APPROVAL, STATE_AFTER_APPLY, VERSION, Command
from lendshield.errors import Forbidden, InvalidInput, NotFound
from lendshield.loans.models import LoanRow
from lendshield.principals import SYSTEM, Principal
from lendshield.runtime import Runtime
from lendshield.subjects import service as subjects

COMMAND_KEY = "devices/commands"
REQUESTER_ROLES = frozenset({"collector", "collection_supervisor", "device_operator"})
ENROL_ROLES = frozenset({"device_operator", "loan_system"})
REASON_CODES = frozenset({"overdue_unresponsive", "overdue_refuses_contact", "fraud_suspected", "other"})

BlockerCheck = Callable[[Session, Runtime, str], list[str]]
"""Returns reasons a loan must not be locked now (open dispute, complaint, rights request ...)."""


def _open_rights_requests(session: Session, rt: Runtime, loan_id: str) -> list[str]:
    loan = session.get(LoanRow, loan_id)
    if loan is None:
        return []
    from lendshield.rights.service import open_request_blockers

    # Dated by the injected clock, as every other precondition is.
    return open_request_blockers(session, loan.borrower_id, today=rt.clock.now().date())


def _open_disputes(session: Session, rt: Runtime, loan_id: str) -> list[str]:
    from lendshield.collection.service import blockers_for_loan

    return blockers_for_loan(session, loan_id)


def default_blockers() -> tuple[BlockerCheck, ...]:
    """Never while a complaint, dispute or rights request about the loan is open (issue: preconditions)."""
    return (_open_disputes, _open_rights_requests)


@dataclass(frozen=True)
class DeviceRules:
    """Preconditions and approval rules (configuration; defaults are conservative)."""

    lock_min_overdue_days: int = 60
    reminders_required: int = 2
    final_notice_days: int = 7
    approver_roles: tuple[str, ...] = ("collection_supervisor", "risk_officer")
    approval_ttl: timedelta = timedelta(hours=24)
    command_ttl: timedelta = timedelta(hours=24)
    rotation_ttl: timedelta = timedelta(days=365)
    """A key rotation must reach phones that were offline for months, or they refuse every later command."""
    lender_contact: str = "the lender's customer service number printed on the loan contract"
    how_to_pay: str = "pay in the lender's app or at a bank; the phone unlocks within seconds of a payment that brings the loan current"
    how_to_complain: str = "call the lender, or the financial consumer hotline 12378"
    blockers: tuple[BlockerCheck, ...] = field(default_factory=default_blockers)


def _device(session: Session, device_id: str) -> DeviceRow:
    row = session.get(DeviceRow, device_id) if len(device_id) <= 36 else None
    if row is None:
        raise DeviceNotFound()
    return row


def _entry(rt: Runtime, who: Principal, device: DeviceRow, action: str, **kw: Any) -> ledger.Entry:
    return ledger.Entry(
        time=rt.clock.now(),
        actor=who.id,
        action=action,
        object=f"device:{device.id}",
        subject_ref=ledger.subject_ref(rt.keys, device.borrower_id),
        **kw,
    )


def command_key(rt: Runtime) -> tuple[str, bytes]:
    """The current command key id and its public key (pinned on devices at enrolment)."""
    version, key = rt.keys.signing_key(COMMAND_KEY)
    return f"cmd-{version}", public_raw(key)


IMEI_FIELD = "device_imei"


def _vault_writer(who: Principal) -> Principal:
    """The enroller, writing one field into the vault as the loan system would (actor: the enroller).

    The vault's own writers do not include device operators; enrolment is the one write they make,
    and only of the IMEI they were handed with the phone.
    """
    return Principal(id=who.id, name=who.name, kind=who.kind, roles=frozenset({"loan_system"}))


def enroll(
    session: Session,
    rt: Runtime,
    who: Principal,
    *,
    loan_id: str,
    device_public_key: bytes,
    imei: str,
    notice_version: str | None = None,
    rules: DeviceRules | None = None,
) -> str:
    """Register a financed device for a loan; the key pair was generated on the device.

    Only with the borrower's live consent to the current device notice (``notice.py``). The IMEI
    goes into the vault, on the borrower, encrypted and blind-indexed; the device row keeps only
    which version of that field is this phone's. Everything is checked before anything is written.
    """
    rules = rules or DeviceRules()
    if not who.roles & ENROL_ROLES:
        raise Forbidden("only a device operator or the loan system may enrol devices")
    if len(device_public_key) != 32:
        raise InvalidInput("device_public_key: an Ed25519 public key is 32 bytes", path="public_key")
    clean_imei, _ = rt.catalog.field(IMEI_FIELD, "imei").validate(imei, "imei")
    loan = session.get(LoanRow, loan_id)
    if loan is None:
        raise NotFound("no such loan")
    subjects.require_live(session, loan.borrower_id)
    version = notice.require_for_enrolment(session, rt, loan.borrower_id, rules)
    if notice_version is not None and notice_version != version:
        raise DeviceConsentRequired(
            f"enrolment refused: notice {notice_version[:32]} is not the current device notice {version}", notice_version=version
        )
    imei_version = subjects.correct_field(
        session, rt, _vault_writer(who), loan.borrower_id, IMEI_FIELD, clean_imei, reason="financed device enrolment"
    )
    device = DeviceRow(
        id=str(uuid.uuid4()),
        loan_id=loan.id,
        borrower_id=loan.borrower_id,
        public_key=device_public_key,
        state="active",
        last_seq=0,
        notice_version=version,
        imei_version=imei_version,
        enrolled_at=rt.clock.now(),
    )
    session.add(device)
    session.flush()
    masked = rt.catalog.fields[IMEI_FIELD].mask(clean_imei)
    ledger.append(
        session,
        _entry(rt, who, device, "device.enroll", details={"notice_version": version, "imei": masked, "imei_version": imei_version}),
    )
    return device.id


def consent_problem(session: Session, rt: Runtime, device: DeviceRow, rules: DeviceRules) -> str | None:
    """Why the borrower no longer holds the consent this device was enrolled under (or the current one)."""
    return notice.consent_problem(session, device.borrower_id, {device.notice_version, notice.current_version(rt, rules)})


def _require_consent(session: Session, rt: Runtime, device: DeviceRow, rules: DeviceRules, command: Command) -> None:
    if command in notice.RESTRAINING:
        problem = consent_problem(session, rt, device, rules)
        if problem is not None:
            raise DeviceConsentRequired(f"no {command.value} may be sent: {problem}")


def _acked(session: Session, device_id: str, command: Command) -> list[CommandRow]:
    rows = session.scalars(
        select(CommandRow).where(CommandRow.device_id == device_id, CommandRow.command == command.value, CommandRow.acked_at.is_not(None))
    )
    return list(rows)


def check_preconditions(session: Session, rt: Runtime, device: DeviceRow, rules: DeviceRules) -> list[str]:
    """Every unmet precondition for a lock or restriction, each as a sentence the requester can act on."""
    problems = []
    loan = session.get(LoanRow, device.loan_id)
    if loan is None:
        return ["the loan that financed this device is unknown"]
    if loan.overdue_days < rules.lock_min_overdue_days:
        problems.append(f"the loan is {loan.overdue_days} days overdue; at least {rules.lock_min_overdue_days} are required")
    reminders = _acked(session, device.id, Command.REMIND)
    if len(reminders) < rules.reminders_required:
        problems.append(f"{len(reminders)} reminders were delivered; {rules.reminders_required} are required")
    finals = [r for r in reminders if r.final_notice]
    if not finals:
        problems.append("no final notice was delivered")
    else:
        first_final = min(r.acked_at for r in finals if r.acked_at is not None)
        if rt.clock.now() - first_final < timedelta(days=rules.final_notice_days):
            problems.append(f"the final notice gave less than {rules.final_notice_days} days")
    for check in rules.blockers:
        problems.extend(check(session, rt, device.loan_id))
    consent = consent_problem(session, rt, device, rules)
    if consent is not None:
        problems.append(consent)
    if device.state in ("locked", "released"):
        problems.append(f"the device is already {device.state}")
    return problems


def request_command(
    session: Session, rt: Runtime, who: Principal, device_id: str, *, command: str, reason_code: str, reason_text: str, rules: DeviceRules
) -> str:
    """A maker asks to lock or restrict. Refusals are recorded; nothing is sent until approved."""
    if not who.roles & REQUESTER_ROLES:
        raise Forbidden("this role may not request a lock or restriction")
    try:
        cmd = Command(command)
    except ValueError as exc:
        raise InvalidInput(f"command: unknown command {command!r}") from exc
    if cmd not in NEEDS_APPROVAL:
        raise InvalidInput("command: only lock and restrict are requested; unlock and release are automatic")
    if reason_code not in REASON_CODES or len(reason_text.strip()) < 10:
        raise InvalidInput("a reason code and a written reason of at least 10 characters are required")
    device = _device(session, device_id)
    problems = check_preconditions(session, rt, device, rules)
    if problems:
        ledger.append(
            session,
            _entry(
                rt,
                who,
                device,
                "device.request",
                decision="refused",
                rule_id="preconditions",
                reason=reason_text,
                details={"command": cmd.value, "problems": problems},
            ),
        )
        raise PreconditionFailed("; ".join(problems), problems=problems)
    request_id = str(uuid.uuid4())
    session.add(
        CommandRequestRow(
            id=request_id,
            device_id=device.id,
            command=cmd.value,
            reason_code=reason_code,
            reason_text=reason_text,
            requested_by=who.id,
            requested_at=rt.clock.now(),
            status="pending",
            decided_at=None,
        )
    )
    ledger.append(
        session,
        _entry(
            rt,
            who,
            device,
            "device.request",
            decision="pending",
            reason=reason_text,
            details={"command": cmd.value, "request": request_id, "reason_code": reason_code},
        ),
    )
    return request_id


def review(session: Session, rt: Runtime, who: Principal, request_id: str, *, approve: bool, reason: str, rules: DeviceRules) -> str:
    """A checker approves or denies. Distinct people in distinct roles; never the requester."""
    req = session.get(CommandRequestRow, request_id) if len(request_id) <= 36 else None
    if req is None:
        raise NotFound("no such request")
    device = _device(session, req.device_id)
    now = rt.clock.now()
    if req.status == "pending" and now - req.requested_at > rules.approval_ttl:
        req.status, req.decided_at = "expired", now
        ledger.append(session, _entry(rt, SYSTEM, device, "device.request.expire", details={"request": req.id}))
        return req.status
    if req.status != "pending":
        raise RequestClosed(f"the request is {req.status}")
    if who.id == req.requested_by:
        raise ApprovalRefused("nobody may review their own request")
    roles = [r for r in rules.approver_roles if r in who.roles]
    if not roles:
        raise ApprovalRefused(f"approvals come from: {', '.join(rules.approver_roles)}")
    existing = list(session.scalars(select(ApprovalRow).where(ApprovalRow.request_id == req.id)))
    if any(a.approver_id == who.id for a in existing):
        raise ApprovalRefused("you have already reviewed this request")
    free = [r for r in roles if r not in {a.role for a in existing}]
    if not free:
        raise ApprovalRefused("your role has already approved; the next approval must come from another role")
    if not reason.strip():
        raise InvalidInput("reason: a review needs a written reason")
    if approve:
        _require_consent(session, rt, device, rules, Command(req.command))
    role = free[0]
    digest = hashlib.sha256(f"{req.id}|{who.id}|{role}|{'approve' if approve else 'deny'}|{now.isoformat()}".encode()).hexdigest()
    session.add(
        ApprovalRow(
            request_id=req.id,
            approver_id=who.id,
            role=role,
            decision="approve" if approve else "deny",
            reason=reason,
            at=now,
            digest=digest,
        )
    )
    ledger.append(
        session,
        _entry(
            rt,
            who,
            device,
            "device.review",
            decision="approve" if approve else "deny",
            reason=reason,
            details={"request": req.id, "role": role, "digest": digest},
        ),
    )
    if not approve:
        req.status, req.decided_at = "denied", now
        return req.status
    approvals = [a for a in existing if a.decision == "approve"] + [ApprovalRow(role=role, digest=digest)]
    if {a.role for a in approvals} >= set(rules.approver_roles):
        req.status, req.decided_at = "approved", now
        args = {"lender_contact": rules.lender_contact, "how_to_pay": rules.how_to_pay, "how_to_complain": rules.how_to_complain}
        issue(session, rt, device, Command(req.command), rules, args=args, approvals=[a.digest for a in approvals], request_id=req.id)
        req.status = "issued"
    return req.status


def issue(
    session: Session,
    rt: Runtime,
    device: DeviceRow,
    command: Command,
    rules: DeviceRules,
    *,
    args: dict[str, Any],
    approvals: list[str],
    request_id: str | None,
    who: Principal = SYSTEM,
    final_notice: bool = False,
    sign_with: str | None = None,
    ttl: timedelta | None = None,
) -> CommandRow:
    """Log the command, then sign it with its ledger entry inside: no unlogged command exists.

    ``sign_with`` names an older command-key version (only a key rotation's announcement uses it).
    """
    _require_consent(session, rt, device, rules, command)
    now = rt.clock.now()
    ttl = rules.command_ttl if ttl is None else ttl
    seq = (session.scalar(select(func.max(CommandRow.seq)).where(CommandRow.device_id == device.id)) or 0) + 1
    ledger_seq = ledger.append(
        session,
        _entry(
            rt, who, device, "device.command", decision=command.value, details={"seq": seq, "request": request_id, "approvals": approvals}
        ),
    )
    version, key = rt.keys.signing_key(COMMAND_KEY, sign_with)
    kid = f"cmd-{version}"
    claims = {
        "v": VERSION,
        "iss": rt.settings.ledger_origin,
        "dev": device.id,
        "seq": seq,
        "nonce": b64url(secrets.token_bytes(16)),
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
        "cmd": command.value,
        "args": args,
        "appr": approvals,
        "led": {"seq": ledger_seq},
    }
    row = CommandRow(
        device_id=device.id,
        seq=seq,
        command=command.value,
        request_id=request_id,
        final_notice=final_notice,
        token=sign_compact(key, kid, claims, COMMAND_TYP),
        issued_at=now,
        expires_at=now + ttl,
        ledger_seq=ledger_seq,
        acked_at=None,
        ack_token=None,
    )
    session.add(row)
    session.flush()
    return row


def remind(
    session: Session, rt: Runtime, who: Principal, device_id: str, *, message_zh: str, final: bool, rules: DeviceRules
) -> CommandRow:
    if not who.roles & REQUESTER_ROLES:
        raise Forbidden("this role may not send reminders")
    device = _device(session, device_id)
    _require_consent(session, rt, device, rules, Command.REMIND)
    args: dict[str, Any] = {"message_zh": message_zh}
    if final:
        args["final_notice"] = True
    return issue(session, rt, device, Command.REMIND, rules, args=args, approvals=[], request_id=None, who=who, final_notice=final)


def on_loan_state(session: Session, rt: Runtime, loan_id: str, rules: DeviceRules) -> list[CommandRow]:
    """Called when the loan system reports a payment: a current loan unlocks at once, a paid-off one is released."""
    loan = session.get(LoanRow, loan_id)
    if loan is None:
        return []
    issued = []
    for device in session.scalars(select(DeviceRow).where(DeviceRow.loan_id == loan_id)):
        if loan.status == "paid_off" and device.state != "released":
            cert = _release_certificate(rt, device, loan)
            issued.append(issue(session, rt, device, Command.RELEASE, rules, args={"certificate": cert}, approvals=[], request_id=None))
        elif loan.overdue_days == 0 and device.state in ("locked", "restricted"):
            issued.append(issue(session, rt, device, Command.UNLOCK, rules, args={}, approvals=[], request_id=None))
    return issued


def _release_certificate(rt: Runtime, device: DeviceRow, loan: LoanRow) -> str:
    """A signed statement the borrower keeps: this device is free of any remote control."""
    version, key = rt.keys.signing_key(COMMAND_KEY)
    claims = {"v": VERSION, "dev": device.id, "loan": loan.id, "released_at": int(rt.clock.now().timestamp())}
    return sign_compact(key, f"cmd-{version}", claims, "lendshield-release-certificate")


def _unlock_if_due(session: Session, rt: Runtime, device: DeviceRow, rules: DeviceRules, withdrawn: bool) -> None:
    # A phone offline past an unlock's expiry would refuse it and stay locked on a paid-up loan:
    # issue a fresh one at check-in (in the borrower's favour; no approval needed). The same once
    # the borrower withdrew consent to the device notice: the lender's control ends there.
    loan = session.get(LoanRow, device.loan_id)
    if loan is None or device.state not in ("locked", "restricted") or (loan.overdue_days != 0 and not withdrawn):
        return
    now = rt.clock.now()
    live = session.scalar(
        select(func.count())
        .select_from(CommandRow)
        .where(
            CommandRow.device_id == device.id,
            CommandRow.command.in_(("unlock", "release")),
            CommandRow.seq > device.last_seq,
            CommandRow.expires_at > now,
        )
    )
    if not live:
        issue(session, rt, device, Command.UNLOCK, rules, args={}, approvals=[], request_id=None)


def deliverable(
    session: Session, rt: Runtime, device_id: str, after_seq: int, rules: DeviceRules | None = None
) -> tuple[list[dict[str, Any]], list[int]]:
    """Commands after ``after_seq`` whose ledger entries are in the latest signed checkpoint, each
    with its proof; the others wait for the integrator (seconds) and are listed by sequence number.

    Never re-sent: a command the device acknowledged applying (a device claiming an older sequence
    number was rolled back) or one that has expired (it would be refused anyway). Once the borrower
    withdrew their consent to the device notice, no reminder, restriction or lock is delivered, and
    a locked or restricted phone gets an ``unlock``.
    """
    from lendshield.ledger.proofs import proof_for_entry

    device = _device(session, device_id)
    rules = rules or DeviceRules()
    withdrawn = consent_problem(session, rt, device, rules) is not None
    _unlock_if_due(session, rt, device, rules, withdrawn)
    now = rt.clock.now()
    ready, waiting = [], []
    for row in pending_commands(session, device_id, max(after_seq, device.last_seq)):
        if row.expires_at <= now or (withdrawn and row.command in notice.RESTRAINING):
            continue
        proof = proof_for_entry(session, row.ledger_seq)
        if proof is None:
            waiting.append(row.seq)
            continue
        ready.append({"seq": row.seq, "token": row.token, "proof": proof})
    return ready, waiting


def pending_commands(session: Session, device_id: str, after_seq: int) -> list[CommandRow]:
    return list(
        session.scalars(select(CommandRow).where(CommandRow.device_id == device_id, CommandRow.seq > after_seq).order_by(CommandRow.seq))
    )


def acknowledge(session: Session, rt: Runtime, device_id: str, ack_token: str) -> CommandRow:
    """The device's signed acknowledgement that it applied (or refused) a command."""
    device = _device(session, device_id)
    try:
        _, claims = verify_compact(ack_token, {f"dev-{device.id}": device.public_key}, ACK_TYP)
    except JwsInvalid as exc:
        raise Forbidden(f"acknowledgement refused: {exc.detail}") from exc
    seq = claims.get("seq")
    row = session.scalar(select(CommandRow).where(CommandRow.device_id == device.id, CommandRow.seq == seq))
    if row is None or claims.get("dev") != device.id:
        raise NotFound("no such command for this device")
    if row.acked_at is not None:
        return row
    applied = claims.get("result") == "applied"
    if applied:
        # Only an applied command counts as delivered (a refused reminder is no reminder), and a
        # refusal leaves the command open, so the phone may still apply it once it verifies.
        row.acked_at, row.ack_token = rt.clock.now(), ack_token
        device.last_seq = max(device.last_seq, row.seq)
        if row.command in STATE_AFTER_APPLY:
            device.state = STATE_AFTER_APPLY[row.command]
    ledger.append(
        session,
        _entry(
            rt,
            SYSTEM,
            device,
            "device.ack",
            decision=str(claims.get("result")),
            details={"seq": row.seq, "reason": str(claims.get("reason", ""))[:200]},
        ),
    )
    return row
