"""Policy services: dry-run decisions and support tickets (case state for `open_ticket`)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from lendshield import ledger
from lendshield.consent import gate as consent_gate
from lendshield.errors import Forbidden, NotFound
from lendshield.policy.decision import Decision
from lendshield.policy.engine import NO_PURPOSE, UNKNOWN_PURPOSE, Request
from lendshield.policy.facts import facts_for
from lendshield.policy.models import TicketRow
from lendshield.principals import Principal
from lendshield.runtime import Runtime
from lendshield.subjects import service as subjects_service

EXPLAIN_ROLES = frozenset({"protection_officer", "admin", "auditor"})
TICKET_ROLES = frozenset({"customer_service"})


@dataclass(frozen=True, slots=True)
class DryRun:
    roles: frozenset[str]
    purpose: str
    decisions: dict[str, Decision]
    facts: frozenset[str]


def decide(
    session: Session,
    rt: Runtime,
    who: Principal,
    *,
    purpose: str,
    fields: Sequence[str],
    clear: bool,
    roles: Sequence[str] | None = None,
    subject_id: str | None = None,
) -> DryRun:
    """What the gate would decide, without reading anything. Asking for other roles needs an officer."""
    as_roles = frozenset(roles) if roles else who.roles
    if as_roles != who.roles and not who.roles & EXPLAIN_ROLES:
        raise Forbidden("only the protection officer, an administrator or an auditor may dry-run other roles")
    for role in as_roles:
        if role not in rt.catalog.roles:
            raise NotFound(f"no such role '{role[:32]}'")
    specs = [rt.catalog.field(f, f"fields.{f}") for f in fields]
    probe = Principal(id=who.id, name=who.name, kind=who.kind, roles=as_roles)
    facts: frozenset[str] = frozenset()
    if subject_id is not None:
        subjects_service.require_live(session, subject_id)
        if purpose in rt.policy.purposes:
            facts = facts_for(session, probe, subject_id, rt.policy.conditions_for(as_roles, purpose))
    decisions = {s.name: rt.policy.decide(Request(probe, s, purpose, clear, facts)) for s in specs}
    if subject_id is not None and purpose in rt.policy.purposes:
        allowed = [n for n, d in decisions.items() if d.allowed]
        decisions.update(consent_gate.denials(session, rt.catalog, rt.policy.purposes.by_id[purpose], subject_id, allowed))
    ledger.append(
        session,
        ledger.Entry(
            time=rt.clock.now(),
            actor=who.id,
            action="policy.dry_run",
            object="fields:" + ",".join(fields),
            subject_ref=ledger.subject_ref(rt.keys, subject_id) if subject_id else None,
            purpose=purpose if purpose in rt.policy.purposes else "(unknown)",
            decision="dry-run",
            rule_id=",".join(sorted({d.rule_id for d in decisions.values()})),
            details={"roles": sorted(as_roles), "decisions": {n: [d.effect.value, d.rule_id] for n, d in decisions.items()}},
        ),
    )
    return DryRun(roles=as_roles, purpose=purpose, decisions=decisions, facts=facts)


def open_ticket(session: Session, rt: Runtime, who: Principal, subject_id: str) -> str:
    if not who.roles & TICKET_ROLES:
        raise Forbidden("only customer service opens tickets")
    subjects_service.require_live(session, subject_id)
    ticket = TicketRow(id=str(uuid.uuid4()), subject_id=subject_id, opened_by=who.id, opened_at=rt.clock.now(), closed_at=None)
    session.add(ticket)
    session.flush()
    ledger.append(
        session,
        ledger.Entry(
            time=rt.clock.now(),
            actor=who.id,
            action="ticket.open",
            object=f"ticket:{ticket.id}",
            subject_ref=ledger.subject_ref(rt.keys, subject_id),
        ),
    )
    return ticket.id


def close_ticket(session: Session, rt: Runtime, who: Principal, ticket_id: str) -> None:
    if not who.roles & TICKET_ROLES:
        raise Forbidden("only customer service closes tickets")
    ticket = session.get(TicketRow, ticket_id)
    if ticket is None:
        raise NotFound("no such ticket")
    if ticket.closed_at is None:
        ticket.closed_at = rt.clock.now()
        ledger.append(
            session,
            ledger.Entry(
                time=rt.clock.now(),
                actor=who.id,
                action="ticket.close",
                object=f"ticket:{ticket.id}",
                subject_ref=ledger.subject_ref(rt.keys, ticket.subject_id),
            ),
        )


__all__ = ["NO_PURPOSE", "UNKNOWN_PURPOSE", "DryRun", "close_ticket", "decide", "open_ticket"]
