"""Delivery through the adapter: the caller gets a masked number, the outbox gets the real one
sealed under the person's key, and both the gate's read and the delivery are in the ledger (R9)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from lendshield.collection import delivery
from lendshield.collection.adapter import read_outbox
from lendshield.collection.models import OutboxRow
from lendshield.ledger.models import LedgerEntryRow
from lendshield.principals import Principal
from lendshield.runtime import Runtime
from lendshield.subjects import service as subjects
from lendshield.subjects.errors import SubjectShredded
from tests.policy import gate_support as gs

OFFICER = Principal(id="officer-1", name="officer", kind="staff", roles=frozenset({"protection_officer"}))


def test_message_goes_to_the_real_number_and_the_caller_sees_it_masked(rt: Runtime) -> None:
    sid = gs.borrower(rt)
    with rt.sessions() as session:
        sent = delivery.send_message(session, rt, OFFICER, sid, "您的验证码 123456", reason="sign-in code", record_text=False)
        session.commit()
    assert sent.masked_to == "138****5678"
    with rt.sessions() as session:
        (msg,) = read_outbox(session, rt, sid)
        sealed = session.scalars(select(OutboxRow.sealed)).one()
        actions = session.scalars(select(LedgerEntryRow.action).order_by(LedgerEntryRow.seq)).all()
    assert (msg.to_e164, msg.text, msg.kind) == ("+8613812345678", "您的验证码 123456", "sms")
    assert b"13812345678" not in sealed
    assert b"123456" not in sealed
    assert actions[-2:] == ["subject.deliver", "contact.deliver_message"]


def test_shredding_the_person_makes_their_outbox_unreadable(rt: Runtime) -> None:
    sid = gs.borrower(rt)
    with rt.sessions() as session:
        delivery.bridge_call(session, rt, OFFICER, sid, reason="collection call")
        session.commit()
    with rt.sessions() as session:
        subjects.shred(session, rt, OFFICER, sid, reason="deletion request")
        session.commit()
    with rt.sessions() as session, pytest.raises(SubjectShredded):
        read_outbox(session, rt, sid)
