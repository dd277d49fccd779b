"""Request dependencies: the runtime, the unit of work, the authenticated principal, the purpose.

``OneHopRoute`` runs a whole request of the hot read path (token, purpose, the endpoint, the
commit) in one transaction, on the event loop itself or in one hop to a thread of its own pool
(``Settings.hot_read_threads``); every other route uses the same dependencies through FastAPI's
own resolution.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar, copy_context
from functools import cache
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response
from fastapi import routing as fastapi_routing
from fastapi.dependencies.utils import request_params_to_args
from fastapi.exceptions import RequestValidationError, ResponseValidationError
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session

from lendshield.db.engine import SQLiteWriters, UnitSession, writers_queue
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

_REQUEST_SESSION: ContextVar[Session | None] = ContextVar("lendshield_request_session", default=None)
"""The session of the request's own unit of work, while a ``OneHopRoute`` holds one open."""


def _writer_lock(rt: Runtime) -> SQLiteWriters | None:
    """On SQLite, the queue of this database's writers (``db.engine.SQLiteWriters``)."""
    return writers_queue(rt.engine)


@contextmanager
def _transaction(rt: Runtime, *, autocommit: bool = False) -> Iterator[Session]:
    """A request's unit of work: on SQLite queued with the other writers for the whole of it,
    or, with ``autocommit`` (``UnitSession.statement_autocommit``), only for its one write."""
    if autocommit and rt.engine.dialect.name == "sqlite" and rt.engine.url.database in (None, "", ":memory:"):
        autocommit = False  # an in-memory database is one connection for every thread: keep whole units apart
    lock = None if autocommit else _writer_lock(rt)
    if lock is None:
        with _session_transaction(rt, autocommit=autocommit) as session:
            yield session
        return
    with lock, _session_transaction(rt) as session:
        yield session


@contextmanager
def _session_transaction(rt: Runtime, *, autocommit: bool = False) -> Iterator[Session]:
    session = rt.sessions()
    if autocommit and isinstance(session, UnitSession):
        session.statement_autocommit = True
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


@contextmanager
def unit_of_work(rt: Runtime) -> Iterator[Session]:
    """One transaction per request: commit on success, roll back on error.

    Errors marked ``keep_effects`` (a recorded refusal) commit first: the ledger entry of a
    denial must survive the denial. Under a ``OneHopRoute`` the request's transaction is already
    open (the token was checked in it): the endpoint joins it, and it commits or rolls back by
    the same rules when the endpoint returns.
    """
    joined = _REQUEST_SESSION.get()
    if joined is not None:
        yield joined
        return
    with _transaction(rt) as session:
        yield session


def _bearer(authorization: str | None) -> str:
    # RFC 9110 section 11.1: the scheme name is case-insensitive.
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise InvalidToken()
    return token


def current_principal(rt: RuntimeDep, authorization: Annotated[str | None, Header()] = None) -> Principal:
    token = _bearer(authorization)
    lock = _writer_lock(rt)  # on SQLite this session's BEGIN IMMEDIATE queues with the others
    with lock if lock is not None else nullcontext(), rt.sessions() as session:
        who = principals.authenticate(session, token, rt.clock.now())
    return who


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def _purpose(x_purpose: str | None) -> str:
    if not x_purpose or not x_purpose.strip():
        raise BadRequest("the X-Purpose header is required for reading personal data")
    return x_purpose.strip()


async def purpose_header(x_purpose: Annotated[str | None, Header()] = None) -> str:
    """Every request that reads personal data names its purpose (X-Purpose)."""
    return _purpose(x_purpose)


PurposeDep = Annotated[str, Depends(purpose_header)]

_ONE_HOP_DEPENDENCIES = {get_runtime, current_principal, purpose_header}


class OneHopRoute(APIRoute):
    """A route whose request runs inside one unit of work, on the event loop or in one hop to a
    thread (``Settings.hot_read_threads``).

    For a plain ``def`` endpoint without a request body whose dependencies are only
    ``RuntimeDep``, ``PrincipalDep`` and ``PurposeDep``. FastAPI would make three hops (the
    token lookup, the endpoint, the response model's validation) and two transactions (the
    token's own, then the endpoint's: on SQLite two ``BEGIN IMMEDIATE``). Here the token is
    checked in the request's unit of work, and the endpoint's ``unit_of_work`` joins it. That
    unit is an autocommit one (``UnitSession.statement_autocommit``): made for reads whose one
    write is their ledger entry, as such an endpoint (no body) is; ORM work in it runs in a
    transaction of its own making.

    The answers are FastAPI's: the same checks in the same order (the token, then the purpose,
    then the path and query parameters, validated by FastAPI's own fields for this route, as a
    ``RequestValidationError``), every error raised to the one problem+json mapper, and a
    returned model serialised through the route's response model. The OpenAPI document is built
    from the endpoint's signature exactly as for any route. Any other endpoint is served by
    FastAPI's own handler.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        # A route included through a router is built once per inclusion, with that inclusion's
        # dependant (its dependencies included), as FastAPI's own APIRoute.get_route_handler does.
        effective = getattr(fastapi_routing, "_effective_route_context_var", None)
        context = effective.get() if effective is not None else None
        route: Any = context if context is not None and getattr(context, "original_route", None) is self else self
        dependant = route.dependant
        endpoint = dependant.call
        calls = [sub.call for sub in dependant.dependencies]
        if (
            endpoint is None
            or dependant.body_params
            or dependant.header_params
            or dependant.cookie_params
            or dependant.request_param_name
            or dependant.response_param_name
            or dependant.background_tasks_param_name
            or dependant.http_connection_param_name
            or dependant.websocket_param_name
            or dependant.security_scopes_param_name
            or current_principal not in calls
            or not set(calls) <= _ONE_HOP_DEPENDENCIES
            or inspect.iscoroutinefunction(endpoint)
        ):
            return super().get_route_handler()
        steps = [(sub.name, sub.call) for sub in dependant.dependencies]
        path_params, query_params = dependant.path_params, dependant.query_params
        response_field = route.response_field
        status_code = route.status_code or 200
        call: Callable[..., Any] = endpoint

        def run(rt: Runtime, authorization: str | None, x_purpose: str | None, values: dict[str, Any], errors: list[Any]) -> Response:
            with _transaction(rt, autocommit=True) as session:
                reset = _REQUEST_SESSION.set(session)
                try:
                    for name, dependency in steps:  # in the endpoint's order, as FastAPI resolves them
                        if dependency is get_runtime:
                            resolved: Any = rt
                        elif dependency is current_principal:
                            resolved = principals.authenticate(session, _bearer(authorization), rt.clock.now())
                        else:
                            resolved = _purpose(x_purpose)
                        if name is not None:
                            values[name] = resolved
                    if errors:
                        raise RequestValidationError(errors)
                    result = call(**values)
                finally:
                    _REQUEST_SESSION.reset(reset)
            if isinstance(result, Response):
                return result
            if response_field is None:
                raise TypeError(f"{call.__name__} must return a Response or declare a response model")
            value, invalid = response_field.validate(result, {}, loc=("response",))
            if invalid:
                raise ResponseValidationError(invalid, body=result)
            return Response(response_field.serialize_json(value), status_code=status_code, media_type="application/json")

        async def handler(request: Request) -> Response:
            path_values, path_errors = request_params_to_args(path_params, request.path_params)
            query_values, query_errors = request_params_to_args(query_params, request.query_params)
            headers = request.headers
            rt: Runtime = request.app.state.runtime
            values = path_values | query_values
            errors = path_errors + query_errors
            executor = _executor(hot_read_threads(rt))
            if executor is None:  # on the loop: see ``Settings.hot_read_threads``
                return run(rt, headers.get("authorization"), headers.get("x-purpose"), values, errors)
            context = copy_context()  # the request id and other bound log fields, in the worker thread too
            return await asyncio.get_running_loop().run_in_executor(
                executor, context.run, run, rt, headers.get("authorization"), headers.get("x-purpose"), values, errors
            )

        return handler


# Threads for the masked read on PostgreSQL when ``Settings.hot_read_threads`` is unset.
POSTGRESQL_HOT_READ_THREADS = 2


def hot_read_threads(rt: Runtime) -> int:
    """How many threads serve the one-hop routes (``Settings.hot_read_threads``, or its default)."""
    threads = rt.settings.hot_read_threads
    if threads is None:
        return 0 if rt.engine.dialect.name == "sqlite" else POSTGRESQL_HOT_READ_THREADS
    return threads


@cache
def _executor(threads: int) -> ThreadPoolExecutor | None:
    """The one-hop routes' thread pool of that size; None (the event loop itself) for 0.

    A plain executor: anyio's ``to_thread`` (FastAPI's thread pool) costs about twice its CPU per
    hop (cancel scopes, a capacity limiter). Keep ``threads`` at most the PostgreSQL pool
    (10 + 10 overflow, ``db.make_engine``) so a thread never waits for a connection. Called
    only from the route's handler, on the event loop: one thread asks, so one pool is built.
    """
    if threads <= 0:
        return None
    return ThreadPoolExecutor(max_workers=threads, thread_name_prefix="lendshield-uow")
