"""Principals and API tokens. Tokens are ``lsk_<id>.<secret>``; only a digest is stored."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from lendshield import ledger
from lendshield.catalog import Catalog
from lendshield.crypto import constant_time_equal, random_token, token_digest
from lendshield.db.engine import statement_lane
from lendshield.errors import Forbidden, NotFound
from lendshield.ledger.prepared import Prepared
from lendshield.principals.errors import InvalidToken, PrincipalExists, UnknownRole
from lendshield.principals.models import ApiTokenRow, PrincipalRow
from lendshield.principals.principal import Principal

TOKEN_PREFIX = "lsk_"
SELF_ISSUED_MAX_TTL = timedelta(days=90)
_DUMMY_DIGEST = token_digest("lsk_dummy.dummy")
_AUTHENTICATE = (
    select(
        ApiTokenRow.digest,
        ApiTokenRow.revoked_at,
        ApiTokenRow.expires_at,
        ApiTokenRow.principal_id,
        PrincipalRow.name,
        PrincipalRow.kind,
        PrincipalRow.roles,
        PrincipalRow.active,
    )
    .join(PrincipalRow, PrincipalRow.id == ApiTokenRow.principal_id)
    .where(ApiTokenRow.id == bindparam("token_id"))
)
_AUTHENTICATE_RUN = Prepared(_AUTHENTICATE)
_RESULT_PROCESSORS: dict[str, list[Callable[[Any], Any] | None]] = {}


def _result_processors(dialect: Dialect) -> list[Callable[[Any], Any] | None]:
    """Each selected column's own result processor for ``dialect`` (UTC datetimes, JSON roles, booleans),
    so the row reads as SQLAlchemy's own execution would have read it."""
    processors = _RESULT_PROCESSORS.get(dialect.name)
    if processors is None:
        processors = _RESULT_PROCESSORS[dialect.name] = [
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in _AUTHENTICATE.selected_columns
        ]
    return processors


def _to_principal(row: PrincipalRow) -> Principal:
    return Principal(id=row.id, name=row.name, kind=row.kind, roles=frozenset(row.roles))


def require_admin(who: Principal) -> None:
    if not who.has_role("admin"):
        raise Forbidden("only an administrator may manage principals")


RESERVED_ROLES = frozenset({"system", "borrower"})
"""Roles of the platform itself (the delivery bridge, jobs) and of portal sessions: never issued."""


def create_principal(
    session: Session,
    who: Principal | None,
    catalog: Catalog,
    *,
    name: str,
    kind: str,
    roles: Iterable[str],
    now: datetime,
) -> Principal:
    """Create a principal. ``who`` is None only for the bootstrap admin made by `lendshield init`."""
    if who is not None:
        require_admin(who)
    role_set = sorted(set(roles))
    unknown = [r for r in role_set if r not in catalog.roles]
    if unknown or not role_set:
        raise UnknownRole(f"unknown or missing roles: {', '.join(unknown) or '(none)'}")
    reserved = [r for r in role_set if r in RESERVED_ROLES]
    if reserved:
        # Nobody may hold a token that acts as the platform itself or as a borrower.
        raise UnknownRole(f"role(s) {', '.join(reserved)} are never given to a principal with a token")
    if kind not in ("staff", "service"):
        raise UnknownRole("kind must be 'staff' or 'service'")
    if session.scalar(select(PrincipalRow.id).where(PrincipalRow.name == name)) is not None:
        raise PrincipalExists("a principal with that name exists")
    row = PrincipalRow(id=str(uuid.uuid4()), name=name, kind=kind, roles=role_set, active=True, created_at=now)
    session.add(row)
    session.flush()
    ledger.append(
        session,
        ledger.Entry(
            time=now,
            actor=who.id if who else "bootstrap",
            action="principal.create",
            object=f"principal:{row.id}",
            details={"roles": role_set, "kind": kind},
        ),
    )
    return _to_principal(row)


def get_principal(session: Session, principal_id: str) -> Principal:
    row = session.get(PrincipalRow, principal_id)
    if row is None:
        raise NotFound("no such principal")
    return _to_principal(row)


def list_principals(session: Session, who: Principal) -> list[Principal]:
    require_admin(who)
    return [_to_principal(r) for r in session.scalars(select(PrincipalRow).order_by(PrincipalRow.name))]


def set_active(session: Session, who: Principal, principal_id: str, active: bool, now: datetime) -> Principal:
    require_admin(who)
    row = session.get(PrincipalRow, principal_id)
    if row is None:
        raise NotFound("no such principal")
    if row.id == who.id and not active:
        raise Forbidden("an administrator cannot deactivate themselves")
    row.active = active
    ledger.append(
        session,
        ledger.Entry(
            time=now,
            actor=who.id,
            action="principal.activate" if active else "principal.deactivate",
            object=f"principal:{row.id}",
        ),
    )
    return _to_principal(row)


def issue_token(
    session: Session,
    who: Principal | None,
    principal_id: str,
    *,
    label: str,
    now: datetime,
    ttl: timedelta | None = None,
) -> str:
    """Issue a token and return it; this is the only time the secret is ever visible.

    A principal may mint tokens for itself only with a bounded lifetime, so a stolen token
    cannot be used to mint a never-expiring successor that outlives its own revocation.
    """
    if who is not None and who.id != principal_id:
        require_admin(who)
    elif who is not None and not who.has_role("admin"):
        ttl = min(ttl or SELF_ISSUED_MAX_TTL, SELF_ISSUED_MAX_TTL)
    if session.get(PrincipalRow, principal_id) is None:
        raise NotFound("no such principal")
    token_id = secrets.token_hex(8)
    secret = random_token(32)
    token = f"{TOKEN_PREFIX}{token_id}.{secret}"
    session.add(
        ApiTokenRow(
            id=token_id,
            principal_id=principal_id,
            digest=token_digest(token),
            label=label[:120],
            created_at=now,
            expires_at=(now + ttl) if ttl else None,
            revoked_at=None,
        )
    )
    ledger.append(
        session,
        ledger.Entry(
            time=now,
            actor=who.id if who else "bootstrap",
            action="principal.token.issue",
            object=f"principal:{principal_id}",
            details={"token_id": token_id},
        ),
    )
    return token


def revoke_token(session: Session, who: Principal, token_id: str, now: datetime) -> None:
    row = session.get(ApiTokenRow, token_id)
    if row is None:
        raise NotFound("no such token")
    if row.principal_id != who.id:
        require_admin(who)
    row.revoked_at = now
    ledger.append(
        session,
        ledger.Entry(
            time=now,
            actor=who.id,
            action="principal.token.revoke",
            object=f"principal:{row.principal_id}",
            details={"token_id": token_id},
        ),
    )


def authenticate(session: Session, token: str, now: datetime) -> Principal:
    """Resolve a bearer token to its principal in constant time with respect to the secret."""
    token_id = ""
    if token.startswith(TOKEN_PREFIX) and "." in token:
        token_id = token[len(TOKEN_PREFIX) :].split(".", 1)[0]
    # One Core statement for the token and its principal, run on the session's own cursor
    # (ledger.prepared): this runs on every request, and SQLAlchemy's per-execution work cost more
    # than the statement (docs/benchmarks.md, API under load).
    row: tuple[Any, ...] | None = None
    if token_id and len(token_id) <= 24:
        lane = statement_lane(session)  # the unit of work's own driver connection, its transaction begun
        rows = _AUTHENTICATE_RUN.run(lane, {"token_id": token_id})
        if rows:
            row = tuple(v if proc is None else proc(v) for proc, v in zip(_result_processors(lane.dialect), rows[0], strict=True))
    presented = token_digest(token)
    stored = row[0] if row is not None else _DUMMY_DIGEST
    ok = constant_time_equal(presented, bytes(stored))
    if row is None or not ok:
        raise InvalidToken()
    _digest, revoked_at, expires_at, principal_id, name, kind, roles, active = row
    if revoked_at is not None:
        raise InvalidToken()
    if expires_at is not None and expires_at <= now:
        raise InvalidToken()
    if not active:
        raise InvalidToken()
    return Principal(id=principal_id, name=name, kind=kind, roles=frozenset(roles))
