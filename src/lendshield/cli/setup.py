"""`lendshield init`: migrate, create the key file and the first administrator."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lendshield.crypto import LocalKeyFile
from lendshield.db import make_engine, make_sessionmaker
from lendshield.db.migrate import upgrade
from lendshield.principals import service as principals
from lendshield.principals.models import PrincipalRow
from lendshield.runtime import Runtime, build_runtime
from lendshield.settings import Settings


def initialise(settings: Settings) -> tuple[Runtime, str | None]:
    """Idempotent. Returns the runtime and the bootstrap admin token if one was just created."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if settings.key_provider == "local":
        LocalKeyFile.open_or_create(settings.resolved_key_file())
    engine = make_engine(settings.resolved_database_url())
    upgrade(engine)
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
