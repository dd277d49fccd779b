"""A canary identity never carries a real person's resident ID, mobile or IMEI: each drawn identifier
with a blind index is looked up in the vault and drawn again if anyone has it (the generator is
seeded here, so the test knows what it would draw)."""

from __future__ import annotations

import random
from typing import Any

from lendshield.principals import SYSTEM
from lendshield.runtime import Runtime
from lendshield.subjects import service as subjects
from lendshield.transfers import canaries, config
from lendshield.watch import ledger_read
from tests.policy.gate_support import LOADER
from tests.transfers.support import borrowers

SEED = 20261201
INDEXED = ("resident_id", "mobile", "device_imei")  # bank_card has no blind index in the catalog


def _draw(rt: Runtime, field: str, taken: canaries.Taken) -> str:
    today = rt.clock.now().date()
    return canaries.identity(
        rt.catalog, [field], today=today, email_domain="mail.lendshield.example", taken=taken, rng=random.Random(SEED)
    )[field]


def _holders(rt: Runtime, field: str, value: str) -> list[str]:
    with rt.sessions() as session:
        return subjects.find_by(session, rt, SYSTEM, field, value, purpose=canaries.CHECK_PURPOSE)


def _lookups(rt: Runtime) -> list[ledger_read.Record]:
    with rt.sessions() as session:
        return [r for r in ledger_read.after(session, -1, 100_000) if r.action == "subject.lookup" and r.purpose == canaries.CHECK_PURPOSE]


def test_a_value_a_real_borrower_has_is_drawn_again(rt: Runtime) -> None:
    nobody = _draw(rt, "resident_id", lambda _f, _v: False)
    assert [f for f in canaries.CHECKED_FIELDS if canaries.checked(rt.catalog, f)] == list(INDEXED)
    would = {f: _draw(rt, f, lambda _f, _v: False) for f in INDEXED}
    assert would["resident_id"] == nobody  # the seed fixes the draw
    with rt.sessions() as session:
        real, _ = subjects.create_subject(session, rt, LOADER, kind="borrower", fields={"name": "王五", **would})
        session.commit()

    for field in INDEXED:
        with rt.sessions() as session:
            drawn = _draw(rt, field, canaries.vault_lookup(session, rt))
            session.commit()
        assert drawn != would[field], field
        assert _holders(rt, field, drawn) == []
        assert _holders(rt, field, would[field]) == [real]
    lookups = _lookups(rt)
    assert {e.actor for e in lookups} == {"system"}  # the platform's look-ups, in the ledger
    assert [e.decision for e in lookups if e.subject_ref is not None] == ["match"] * 3  # each first draw was the borrower's


def test_every_export_checks_its_canaries_against_the_vault(client: Any, make_actor: Any, rt: Runtime) -> None:
    ids = borrowers(rt, 0, 3, [])
    exporter = make_actor("risk_officer")
    res = client.post(
        "/v1/transfers/exports",
        json={"subject_ids": ids, "fields": ["name", "resident_id", "mobile"], "purpose": "fraud_prevention", "format": "csv"},
        headers=exporter.headers,
    )
    assert res.status_code == 201, res.text
    n_canaries = config.load(rt.settings.policies_dir).fingerprint.canaries_for(3)
    checked = [e.object for e in _lookups(rt) if e.actor == "system"]
    assert sorted(set(checked)) == ["field:mobile", "field:resident_id"]  # name is not an identifier; no card exported
    assert len(checked) == 2 * n_canaries
