"""Ciphertexts moved in the database (between subjects, between fields, between versions) fail to
decrypt with one opaque error, in the service and over HTTP."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from lendshield.crypto import DecryptionFailed
from lendshield.runtime import Runtime
from lendshield.subjects import service
from lendshield.subjects.models import FieldValueRow

PURPOSE = "loan_servicing"


def _ciphertext(rt: Runtime, sid: str, field: str, version: int = 1) -> bytes:
    with rt.sessions() as session:
        row = session.query(FieldValueRow).filter_by(subject_id=sid, field=field, version=version).one()
        session.rollback()
        return row.ciphertext


def _put(rt: Runtime, sid: str, field: str, blob: bytes, version: int = 1) -> None:
    with rt.sessions() as session:
        session.execute(
            update(FieldValueRow)
            .where(FieldValueRow.subject_id == sid, FieldValueRow.field == field, FieldValueRow.version == version)
            .values(ciphertext=blob)
        )
        session.commit()


def _read(rt: Runtime, who, sid: str, field: str) -> str:  # type: ignore[no-untyped-def]
    with rt.sessions() as session:
        view = service.read_fields(session, rt, who, sid, [field], purpose=PURPOSE, reason=None)
        session.rollback()
    return view.fields[field].value


def test_swapped_between_subjects(rt: Runtime, make_actor, store) -> None:  # type: ignore[no-untyped-def]
    who = make_actor("loan_system").principal
    a, b = store(who), store(who)
    _put(rt, b, "mobile", _ciphertext(rt, a, "mobile"))
    assert _read(rt, who, a, "mobile") == "138****5678"
    with pytest.raises(DecryptionFailed) as info:
        _read(rt, who, b, "mobile")
    assert str(info.value) == "stored data could not be decrypted"


def test_swapped_between_fields(rt: Runtime, make_actor, store) -> None:  # type: ignore[no-untyped-def]
    who = make_actor("loan_system").principal
    a = store(who)
    mobile, email = _ciphertext(rt, a, "mobile"), _ciphertext(rt, a, "email")
    _put(rt, a, "mobile", email)
    _put(rt, a, "email", mobile)
    for field in ("mobile", "email"):
        with pytest.raises(DecryptionFailed):
            _read(rt, who, a, field)


def test_old_version_replayed_as_current(rt: Runtime, make_actor, store) -> None:  # type: ignore[no-untyped-def]
    who = make_actor("loan_system").principal
    a = store(who)
    with rt.sessions() as session:
        service.correct_field(session, rt, who, a, "mobile", "13900001111", reason="moved")
        session.commit()
    _put(rt, a, "mobile", _ciphertext(rt, a, "mobile", 1), version=2)
    with pytest.raises(DecryptionFailed):
        _read(rt, who, a, "mobile")


def test_over_http_the_error_is_opaque(client: TestClient, rt: Runtime, make_actor, store) -> None:  # type: ignore[no-untyped-def]
    actor = make_actor("loan_system")
    a, b = store(actor.principal), store(actor.principal)
    _put(rt, b, "resident_id", _ciphertext(rt, a, "resident_id"))
    resp = client.get(f"/v1/subjects/{b}", headers=actor.headers | {"X-Purpose": PURPOSE})
    assert resp.status_code == 500
    assert resp.headers["content-type"] == "application/problem+json"
    body = resp.json()
    assert body["code"] == "decryption-failed"
    assert body["detail"] == "stored data could not be decrypted"
    assert "resident_id" not in resp.text
    assert "tag" not in resp.text.lower()
