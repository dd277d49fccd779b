"""The vault at service level: round trips, correction, lookup with normalisation, tokens, shred."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from lendshield.crypto import DecryptionFailed
from lendshield.errors import Forbidden
from lendshield.ledger.models import LedgerEntryRow
from lendshield.runtime import Runtime
from lendshield.subjects import service, vault
from lendshield.subjects.errors import ReasonRequired, SubjectNotFound, SubjectShredded, TokenNotFound
from lendshield.subjects.models import BlindIndexRow, FieldValueRow, SubjectKeyRow, TokenRow

from .conftest import BORROWER, count

PURPOSE = "loan_servicing"  # loan_system and customer_service read masked values for it
RIGHTS = "rights_request"  # the protection officer reads clear text for it, with a reason
SERVICING_FIELDS = ["name", "resident_id", "mobile", "email", "address", "bank_card"]


def read(rt: Runtime, who, sid: str, fields=None, *, clear: bool = False, reason: str | None = None):  # type: ignore[no-untyped-def]
    purpose = RIGHTS if clear and "protection_officer" in who.roles else PURPOSE
    with rt.sessions() as session:
        view = service.read_fields(session, rt, who, sid, fields, purpose=purpose, reason=reason, clear=clear)
        session.commit()
    return view


def test_clear_round_trip_of_every_field(rt: Runtime, make_actor, store: Callable[..., str]) -> None:  # type: ignore[no-untyped-def]
    sid = store(make_actor("loan_system").principal)
    view = read(rt, make_actor("protection_officer").principal, sid, clear=True, reason="rights request")
    values = {n: f.value for n, f in view.fields.items()}
    assert values == {
        **BORROWER,
        "mobile": "+8613812345678",
        "income": "12000.00",
    }
    assert all(f.effect.value == "clear" for f in view.fields.values())


def test_masked_read_hides_values(rt: Runtime, make_actor, store: Callable[..., str]) -> None:  # type: ignore[no-untyped-def]
    sid = store(make_actor("loan_system").principal)
    view = read(rt, make_actor("customer_service").principal, sid, SERVICING_FIELDS)
    shown = {n: f.value for n, f in view.fields.items()}
    assert shown["resident_id"] == "110105********002X"
    assert shown["mobile"] == "138****5678"
    assert shown["bank_card"] == "**** 3446"
    assert shown["address"] == "广东省深圳市***"
    assert shown["name"] == "李*"
    for name, value in shown.items():
        assert value != BORROWER[name]


def test_clear_request_by_masking_role_is_masked_and_needs_no_reason(rt: Runtime, make_actor, store) -> None:  # type: ignore[no-untyped-def]
    sid = store(make_actor("loan_system").principal)
    view = read(rt, make_actor("customer_service").principal, sid, ["mobile"], clear=True)
    assert view.fields["mobile"].value == "138****5678"


def test_clear_without_reason_is_refused_and_logs_nothing(rt: Runtime, make_actor, store) -> None:  # type: ignore[no-untyped-def]
    sid = store(make_actor("loan_system").principal)
    risk = make_actor("protection_officer").principal
    before = count(rt, LedgerEntryRow)
    with pytest.raises(ReasonRequired), rt.sessions() as session:
        service.read_fields(session, rt, risk, sid, ["mobile"], purpose=RIGHTS, reason="  ", clear=True)
    assert count(rt, LedgerEntryRow) == before


def test_unknown_subject_is_not_found(rt: Runtime, make_actor) -> None:  # type: ignore[no-untyped-def]
    collector = make_actor("collector").principal
    with pytest.raises(SubjectNotFound):
        read(rt, collector, "00000000-0000-0000-0000-000000000000")
    with pytest.raises(SubjectNotFound):
        read(rt, collector, "x" * 400)


def test_correction_keeps_previous_ciphertext(rt: Runtime, make_actor, store) -> None:  # type: ignore[no-untyped-def]
    writer = make_actor("loan_system").principal
    sid = store(writer)
    with rt.sessions() as session:
        version = service.correct_field(session, rt, writer, sid, "mobile", "139 0000 1111", reason="customer asked")
        session.commit()
    assert version == 2
    assert count(rt, FieldValueRow, FieldValueRow.subject_id == sid, FieldValueRow.field == "mobile") == 2
    officer = make_actor("protection_officer").principal
    assert read(rt, officer, sid, ["mobile"], clear=True, reason="check").fields["mobile"].value == "+8613900001111"
    with rt.sessions() as session:
        assert service.find_by(session, rt, writer, "mobile", "13812345678", purpose=PURPOSE) == []
        assert service.find_by(session, rt, writer, "mobile", "13900001111", purpose=PURPOSE) == [sid]
        old = session.query(FieldValueRow).filter_by(subject_id=sid, field="mobile", version=1).one()
        cipher = vault.cipher_for(session, rt.keys, rt.dek_cache, sid)
        assert cipher.decrypt("mobile", 1, old.ciphertext) == "+8613812345678"


def test_reader_may_not_write(rt: Runtime, make_actor, store) -> None:  # type: ignore[no-untyped-def]
    sid = store(make_actor("loan_system").principal)
    collector = make_actor("collector").principal
    with pytest.raises(Forbidden), rt.sessions() as session:
        service.correct_field(session, rt, collector, sid, "mobile", "13900001111", reason="x")
    with pytest.raises(Forbidden), rt.sessions() as session:
        service.create_subject(session, rt, collector, kind="borrower", fields={"name": "王五"})


@pytest.mark.parametrize(
    "presented",
    [
        "13812345678",
        "+8613812345678",
        "+86 138 1234 5678",
        "+86-138-1234-5678",
        "138-1234-5678",
        "138 1234 5678",
        "0086 138 1234 5678",
        "(+86) 13812345678",
        "１３８１２３４５６７８",
        "＋８６ １３８ １２３４ ５６７８",
    ],
)
def test_phone_lookup_normalises(rt: Runtime, make_actor, store, presented: str) -> None:  # type: ignore[no-untyped-def]
    writer = make_actor("loan_system").principal
    sid = store(writer)
    with rt.sessions() as session:
        assert service.find_by(session, rt, writer, "mobile", presented, purpose=PURPOSE) == [sid]


@pytest.mark.parametrize(
    "presented", ["11010519491231002X", "11010519491231002x", " 110105 19491231 002x ", "１１０１０５１９４９１２３１００２ｘ"]
)
def test_resident_id_lookup_normalises(rt: Runtime, make_actor, store, presented: str) -> None:  # type: ignore[no-untyped-def]
    writer = make_actor("loan_system").principal
    sid = store(writer)
    with rt.sessions() as session:
        assert service.find_by(session, rt, writer, "resident_id", presented, purpose=PURPOSE) == [sid]


def test_lookup_stores_only_digests(rt: Runtime, make_actor, store) -> None:  # type: ignore[no-untyped-def]
    sid = store(make_actor("loan_system").principal)
    with rt.sessions() as session:
        rows = session.query(BlindIndexRow).filter_by(subject_id=sid).all()
    assert {r.field for r in rows} == {"resident_id", "mobile", "device_imei"}
    assert all(len(r.digest) == 32 and b"138" not in r.digest for r in rows)


def test_tokens_are_stable_and_detokenize_through_the_gate(rt: Runtime, make_actor, store) -> None:  # type: ignore[no-untyped-def]
    writer = make_actor("loan_system").principal
    sid = store(writer)
    other = store(writer)
    with rt.sessions() as session:
        tok = service.tokenize(session, rt, writer, sid, "mobile", purpose=PURPOSE)
        assert service.tokenize(session, rt, writer, sid, "mobile", purpose=PURPOSE) == tok
        assert service.tokenize(session, rt, writer, other, "mobile", purpose=PURPOSE) != tok
        assert service.tokenize(session, rt, writer, sid, "resident_id", purpose=PURPOSE) != tok
        session.commit()
    assert tok.startswith("tok_")
    assert "138" not in tok
    before = count(rt, LedgerEntryRow, LedgerEntryRow.action == "subject.detokenize")
    officer = make_actor("protection_officer").principal
    with rt.sessions() as session:
        got_sid, field, masked = service.detokenize(session, rt, writer, tok, purpose=PURPOSE, reason=None, clear=False)
        assert (got_sid, field, masked.value, masked.effect.value) == (sid, "mobile", "138****5678", "mask")
        with pytest.raises(ReasonRequired):
            service.detokenize(session, rt, officer, tok, purpose=RIGHTS, reason=None, clear=True)
        _, _, clear = service.detokenize(session, rt, officer, tok, purpose=RIGHTS, reason="rights request", clear=True)
        assert clear.value == "+8613812345678"
        session.commit()
    assert count(rt, LedgerEntryRow, LedgerEntryRow.action == "subject.detokenize") == before + 2
    with pytest.raises(TokenNotFound), rt.sessions() as session:
        service.detokenize(session, rt, writer, "tok_nonexistent", purpose=PURPOSE, reason=None, clear=False)


def test_token_of_a_corrected_value_still_names_the_old_version(rt: Runtime, make_actor, store) -> None:  # type: ignore[no-untyped-def]
    writer = make_actor("loan_system").principal
    sid = store(writer)
    with rt.sessions() as session:
        old = service.tokenize(session, rt, writer, sid, "mobile", purpose=PURPOSE)
        service.correct_field(session, rt, writer, sid, "mobile", "13900001111", reason="moved")
        new = service.tokenize(session, rt, writer, sid, "mobile", purpose=PURPOSE)
        assert new != old
        assert service.detokenize(session, rt, writer, old, purpose=PURPOSE, reason=None, clear=False)[2].version == 1
        assert service.detokenize(session, rt, writer, new, purpose=PURPOSE, reason=None, clear=False)[2].version == 2
        session.commit()


def test_shred_makes_fields_unreadable_and_removes_indexes_and_tokens(rt: Runtime, make_actor, store) -> None:  # type: ignore[no-untyped-def]
    writer = make_actor("loan_system").principal
    officer = make_actor("protection_officer").principal
    sid = store(writer)
    keep = store(writer)
    with rt.sessions() as session:
        tok = service.tokenize(session, rt, writer, sid, "mobile", purpose=PURPOSE)
        service.tokenize(session, rt, writer, keep, "mobile", purpose=PURPOSE)
        wrapped = session.get(SubjectKeyRow, sid).wrapped  # type: ignore[union-attr]
        kek = session.get(SubjectKeyRow, sid).kek_version  # type: ignore[union-attr]
        session.commit()
    read(rt, writer, sid)  # warm the data-key cache: shredding must not depend on it being cold
    with rt.sessions() as session:
        with pytest.raises(Forbidden):
            service.shred(session, rt, writer, sid, reason="deletion request")
        with pytest.raises(ReasonRequired):
            service.shred(session, rt, officer, sid, reason=" ")
        service.shred(session, rt, officer, sid, reason="deletion request 42")
        session.commit()
    assert count(rt, SubjectKeyRow, SubjectKeyRow.subject_id == sid) == 0
    assert count(rt, BlindIndexRow, BlindIndexRow.subject_id == sid) == 0
    assert count(rt, TokenRow, TokenRow.subject_id == sid) == 0
    assert count(rt, FieldValueRow, FieldValueRow.subject_id == sid) == len(BORROWER)  # ciphertext stays, unreadable
    assert count(rt, BlindIndexRow, BlindIndexRow.subject_id == keep) == 3
    assert count(rt, TokenRow, TokenRow.subject_id == keep) == 1
    with pytest.raises(SubjectShredded) as info:
        read(rt, officer, sid, clear=True, reason="x")
    assert "deletion request 42" in info.value.detail
    with rt.sessions() as session:
        with pytest.raises(SubjectShredded):
            vault.cipher_for(session, rt.keys, rt.dek_cache, sid)
        with pytest.raises(SubjectShredded):
            service.correct_field(session, rt, writer, sid, "mobile", "13900001111", reason="x")
        with pytest.raises(TokenNotFound):
            service.detokenize(session, rt, writer, tok, purpose=PURPOSE, reason=None, clear=False)
        assert service.find_by(session, rt, writer, "mobile", "13812345678", purpose=PURPOSE) == [keep]
        with pytest.raises(SubjectShredded):
            service.shred(session, rt, officer, sid, reason="again")
    # Even a copy of the old wrapped key is useless for another subject id (AAD binds it).
    from lendshield.crypto import unwrap_data_key

    with pytest.raises(DecryptionFailed):
        unwrap_data_key(rt.keys, keep, kek, wrapped)
