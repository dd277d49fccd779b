"""Request dependencies: the runtime, the unit of work, the authenticated principal, the purpose."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session

from lendshield.errors import BadRequest, LendShieldError
from lendshield.principals import Principal
from lendshield.principals import service as principals
from lendshield.principals.errors import InvalidToken
from lendshield.runtime import Runtime


async def get_runtime(request: Request) -> Runtime:
    # async: FastAPI runs a plain `def` dependency on the thread pool, a hop that costs more
    # than this attribute read (docs/benchmarks.md, API under load).
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


@contextmanager
def unit_of_work(rt: Runtime) -> Iterator[Session]:
    """One transaction per request: commit on success, roll back on error.

    Errors marked ``keep_effects`` (a recorded refusal) commit first: the ledger entry of a
    denial must survive the denial.
    """
    session = rt.sessions()
    try:
        yield session
        session.commit()
    except LendShieldError as exc:
        if getattr(exc, "keep_effects", False):
            session.commit()
        else:
            session.rollback()
        raise
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def current_principal(rt: RuntimeDep, authorization: Annotated[str | None, Header()] = None) -> Principal:
    # RFC 9110 section 11.1: the scheme name is case-insensitive.
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise InvalidToken()
    with rt.sessions() as session:
        who = principals.authenticate(session, token, rt.clock.now())
    return who


PrincipalDep = Annotated[Principal, Depends(current_principal)]


async def purpose_header(x_purpose: Annotated[str | None, Header()] = None) -> str:
    """Every request that reads personal data names its purpose (X-Purpose)."""
    if not x_purpose or not x_purpose.strip():
        raise BadRequest("the X-Purpose header is required for reading personal data")
    return x_purpose.strip()


PurposeDep = Annotated[str, Depends(purpose_header)]
