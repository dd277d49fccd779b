"""`lendshield init`: migrate, create the key file and the first administrator."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lendshield.crypto import KeyUnavailable, LocalKeyFile
from lendshield.db import make_engine, make_sessionmaker
from lendshield.db.migrate import upgrade
from lendshield.principals import service as principals
from lendshield.principals.models import PrincipalRow
from lendshield.runtime import Runtime, build_runtime
from lendshield.settings import Settings
from lendshield.subjects.models import SubjectKeyRow


def initialise(settings: Settings) -> tuple[Runtime, str | None]:
    """Idempotent. Returns the runtime and the bootstrap admin token if one was just created."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url())
    upgrade(engine)
    if settings.key_provider == "local" and not settings.resolved_key_file().exists():
        # A fresh key file beside a database that already holds wrapped data keys would make
        # every field unreadable while looking healthy: refuse, so the operator restores the file.
        with make_sessionmaker(engine)() as session:
            held = session.scalar(select(func.count()).select_from(SubjectKeyRow)) or 0
        if held:
            engine.dispose()
            raise KeyUnavailable(
                f"the key file {settings.resolved_key_file()} is missing but the database holds {held} wrapped data keys;"
                " restore the key file from backup (a new one cannot read them)"
            )
        LocalKeyFile.create(settings.resolved_key_file())
    rt = build_runtime(settings, engine=engine)
    token = None
    with make_sessionmaker(engine)() as session:
        token = bootstrap_admin(session, rt)
        session.commit()
    return rt, token


def bootstrap_admin(session: Session, rt: Runtime) -> str | None:
    if (session.scalar(select(func.count()).select_from(PrincipalRow)) or 0) > 0:
        return None
    admin = principals.create_principal(session, None, rt.catalog, name="admin", kind="staff", roles=["admin"], now=rt.clock.now())
    return principals.issue_token(session, None, admin.id, label="bootstrap", now=rt.clock.now())
