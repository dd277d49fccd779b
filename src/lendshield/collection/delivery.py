"""Delivering a message or call to a person without the caller ever holding their number.

The real number is read through the gate by the platform itself (role ``system``, purpose
``contact_delivery``, rule ``system-contact-bridge``), handed to the adapter and dropped; the
read and the delivery are both in the ledger. Callers get a masked number back (R9).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from lendshield import ledger
from lendshield.collection.adapter import ContactAdapter, Delivery, make_adapter, new_id
from lendshield.errors import Conflict
from lendshield.principals import SYSTEM, Principal
from lendshield.runtime import Runtime
from lendshield.subjects import service as subjects

PURPOSE = "contact_delivery"


@dataclass(frozen=True, slots=True)
class Delivered:
    id: str
    masked_to: str
    delivery: Delivery


def _number(session: Session, rt: Runtime, subject_id: str, reason: str) -> tuple[str, str]:
    view = subjects.read_fields(session, rt, SYSTEM, subject_id, ["mobile"], purpose=PURPOSE, reason=reason, clear=True, via="deliver")
    field = view.fields.get("mobile")
    if field is None:
        raise Conflict("this person has no mobile number on record")
    return field.value, rt.catalog.fields["mobile"].mask(field.value)


def send_message(
    session: Session,
    rt: Runtime,
    who: Principal,
    subject_id: str,
    text: str,
    *,
    reason: str,
    adapter: ContactAdapter | None = None,
    message_id: str | None = None,
    record_text: bool = True,
) -> Delivered:
    """Send ``text`` to the person's mobile through the adapter. ``text`` must hold no one else's data.

    The ledger keeps a digest of the text as evidence of what was said; pass ``record_text=False``
    for one-time codes, whose short digests could be reversed by trying every code.
    """
    ref = message_id or new_id()
    to, masked = _number(session, rt, subject_id, reason)
    delivery = (adapter or make_adapter(rt)).send_message(session, message_id=ref, subject_id=subject_id, to_e164=to, text=text)
    ledger.append(
        session,
        ledger.Entry(
            time=rt.clock.now(),
            actor=who.id,
            action="contact.deliver_message",
            object=f"message:{ref}",
            subject_ref=ledger.subject_ref(rt.keys, subject_id),
            reason=reason,
            details={"status": delivery.status} | ({"text_sha256": ledger.digest_of({"text": text})} if record_text else {}),
        ),
    )
    return Delivered(ref, masked, delivery)


def bridge_call(
    session: Session,
    rt: Runtime,
    who: Principal,
    subject_id: str,
    *,
    reason: str,
    adapter: ContactAdapter | None = None,
    call_id: str | None = None,
) -> Delivered:
    """Ask the adapter to connect ``who`` to the person; the caller hears a masked number."""
    ref = call_id or new_id()
    to, masked = _number(session, rt, subject_id, reason)
    delivery = (adapter or make_adapter(rt)).bridge_call(session, call_id=ref, subject_id=subject_id, to_e164=to, caller=who.id)
    return Delivered(ref, masked, delivery)
