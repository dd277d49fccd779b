"""Emergency-contact relations are sealed under the contact's data key: read through
``subjects.links``, never stored in clear, gone with the contact when it is crypto-shredded, and
sealed by the migration for links made before."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, select, text

from lendshield.crypto import DecryptionFailed
from lendshield.db.migrate import alembic_config
from lendshield.principals import Principal
from lendshield.runtime import Runtime
from lendshield.subjects import links, service
from lendshield.subjects.models import SubjectLinkRow

from .conftest import BORROWER

PO = Principal(id="po-links", name="po", kind="staff", roles=frozenset({"protection_officer"}))
RELATIONS = ("配偶", "大学室友")


def _borrower(rt: Runtime, make_actor) -> tuple[str, list[str]]:  # type: ignore[no-untyped-def]
    writer = make_actor("loan_system").principal
    with rt.sessions() as session:
        sid, contacts = service.create_subject(
            session,
            rt,
            writer,
            kind="borrower",
            fields=BORROWER,
            contacts=[
                service.NewContact(relation=RELATIONS[0], fields={"name": "王芳", "mobile": "13912345678"}),
                service.NewContact(relation=RELATIONS[1], fields={"name": "陈静", "mobile": "13612345678"}),
            ],
        )
        session.commit()
    return sid, contacts


def _database_bytes(path: str) -> bytes:
    db = Path(path)
    return b"".join(p.read_bytes() for p in (db, db.with_name(db.name + "-wal")) if p.exists())


def test_relations_are_read_through_links_and_never_stored_in_clear(rt: Runtime, make_actor) -> None:  # type: ignore[no-untyped-def]
    sid, (spouse, roommate) = _borrower(rt, make_actor)
    with rt.sessions() as session:
        assert service.contacts_of(session, rt, sid, who=PO, purpose="rights_request") == [(spouse, RELATIONS[0]), (roommate, RELATIONS[1])]
        assert service.relation_of(session, rt, sid, roommate, who=PO, purpose="rights_request") == RELATIONS[1]
        assert service.relation_of(session, rt, roommate, sid, who=PO, purpose="rights_request") is None  # not linked that way
        stored = [bytes(r.relation_sealed or b"") for r in session.scalars(select(SubjectLinkRow))]
    assert "relation" not in {c["name"] for c in inspect(rt.engine).get_columns("subject_links")}
    for relation in RELATIONS:
        for form in (relation.encode(), relation.encode("utf-16-le"), relation.encode("gb18030")):
            assert all(form not in blob for blob in stored)
            if rt.engine.dialect.name == "sqlite":  # the file and its WAL: nothing in clear anywhere
                assert form not in _database_bytes(rt.engine.url.database or ""), relation


def test_a_shredded_contact_takes_the_relation_with_it(rt: Runtime, make_actor) -> None:  # type: ignore[no-untyped-def]
    sid, (spouse, roommate) = _borrower(rt, make_actor)
    with rt.sessions() as session:
        service.shred(session, rt, PO, spouse, reason="erasure request")
        session.commit()
    with rt.sessions() as session:
        assert service.contacts_of(session, rt, sid, who=PO, purpose="rights_request") == [(roommate, RELATIONS[1])]
        assert service.relation_of(session, rt, sid, spouse, who=PO, purpose="rights_request") is None
        assert links.borrowers_of(session, spouse) == [sid]  # the link itself (ids only) stays


def test_a_sealed_relation_moved_to_another_link_does_not_open(rt: Runtime, make_actor) -> None:  # type: ignore[no-untyped-def]
    sid, (spouse, _roommate) = _borrower(rt, make_actor)
    other, _ = _borrower(rt, make_actor)
    with rt.sessions() as session:
        theirs = session.scalar(select(SubjectLinkRow).where(SubjectLinkRow.borrower_id == sid, SubjectLinkRow.contact_id == spouse))
        assert theirs is not None
        theirs.borrower_id = other  # the same contact's seal, claimed for another borrower
        session.flush()
        with pytest.raises(DecryptionFailed):
            service.relation_of(session, rt, other, spouse, who=PO, purpose="rights_request")
        session.rollback()


def test_the_migration_seals_existing_relations_and_drops_the_clear_column(rt: Runtime, make_actor) -> None:  # type: ignore[no-untyped-def]
    sid, (spouse, roommate) = _borrower(rt, make_actor)
    with rt.sessions() as session:
        service.shred(session, rt, PO, roommate, reason="erasure request")
        session.commit()
    rt.engine.dispose()
    cfg = alembic_config(rt.engine)
    cfg.attributes["keys"] = rt.keys
    command.downgrade(cfg, "subjects@base")  # the schema as it was: relations in clear
    with rt.engine.connect() as conn:
        clear = dict(conn.execute(text("SELECT contact_id, relation FROM subject_links")).all())
    assert clear == {spouse: RELATIONS[0], roommate: ""}  # a shredded contact's relation is not restored
    with rt.engine.begin() as conn:
        conn.execute(text("UPDATE subject_links SET relation = :r WHERE contact_id = :c"), {"r": "父母", "c": spouse})
        conn.execute(text("UPDATE subject_links SET relation = :r WHERE contact_id = :c"), {"r": "同事", "c": roommate})

    command.upgrade(cfg, "heads")
    rt.dek_cache.clear()
    assert "relation" not in {c["name"] for c in inspect(rt.engine).get_columns("subject_links")}
    with rt.sessions() as session:
        assert service.contacts_of(session, rt, sid, who=PO, purpose="rights_request") == [(spouse, "父母")]
        rows = {r.contact_id: r.relation_sealed for r in session.scalars(select(SubjectLinkRow))}
    assert rows[roommate] is None  # shredded: the clear relation was dropped, not sealed
    assert "父母".encode() not in bytes(rows[spouse] or b"")
