"""Request dependencies: the runtime, the unit of work, the authenticated principal, the purpose.

``OneHopRoute`` runs a whole request of the hot read path (token, purpose, the endpoint, the
commit) in one thread-pool hop and one transaction; every other route uses the same dependencies
through FastAPI's own resolution.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import threading
import weakref
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar, copy_context
from typing import Annotated, Any

try:
    import fcntl
except ImportError:  # Windows: the thread lock alone
    fcntl = None  # type: ignore[assignment]

from fastapi import Depends, Header, Request, Response
from fastapi import routing as fastapi_routing
from fastapi.dependencies.utils import request_params_to_args
from fastapi.exceptions import RequestValidationError, ResponseValidationError
from fastapi.routing import APIRoute
from sqlalchemy import Engine
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

_REQUEST_SESSION: ContextVar[Session | None] = ContextVar("lendshield_request_session", default=None)
"""The session of the request's own unit of work, while a ``OneHopRoute`` holds one open."""


class _SQLiteWriters:
    """The request transactions on one SQLite database queue here, across threads and processes.

    Every transaction on SQLite is ``BEGIN IMMEDIATE`` (``db.make_engine``), so only one runs at
    a time anyway. A transaction that meets a held write lock inside SQLite sleeps in its busy
    handler (1, 2, 5, 10 ... 100 ms), and the lock then stands idle while it sleeps: that was
    most of the p99 under load. Queued on a thread lock, and between API processes on an
    ``flock`` of a file beside the database, the next transaction starts the moment the last one
    ends. SQLite's own locking is unchanged and still decides (the CLI, the worker and the jobs
    do not queue here and are simply served by the busy handler); this only orders the waiting.
    """

    def __init__(self, database: str | None) -> None:
        self._thread = threading.RLock()
        self._depth = 0
        self._fd: int | None = None
        if database and database != ":memory:" and fcntl is not None:
            try:
                self._fd = os.open(f"{database}.writers", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError:  # a read-only directory: the thread lock alone, SQLite's busy handler between processes
                self._fd = None

    def __enter__(self) -> None:
        self._thread.acquire()
        self._depth += 1
        if self._depth == 1 and self._fd is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX)  # releases the GIL while it waits
            except OSError:  # a file system without flock: SQLite's busy handler orders the processes
                os.close(self._fd)
                self._fd = None

    def __exit__(self, *_exc: object) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._thread.release()

    def __del__(self) -> None:
        if self._fd is not None:
            os.close(self._fd)


_SQLITE_WRITERS: weakref.WeakKeyDictionary[Engine, _SQLiteWriters] = weakref.WeakKeyDictionary()
_SQLITE_WRITERS_GUARD = threading.Lock()


def _writer_lock(rt: Runtime) -> _SQLiteWriters | None:
    """On SQLite, the queue of this database's request transactions (``_SQLiteWriters``)."""
    if rt.engine.dialect.name != "sqlite":
        return None
    engine = rt.engine
    writers = _SQLITE_WRITERS.get(engine)
    if writers is None:
        with _SQLITE_WRITERS_GUARD:
            writers = _SQLITE_WRITERS.get(engine)
            if writers is None:
                writers = _SQLITE_WRITERS[engine] = _SQLiteWriters(engine.url.database)
    return writers


@contextmanager
def _transaction(rt: Runtime) -> Iterator[Session]:
    lock = _writer_lock(rt)
    if lock is None:
        with _session_transaction(rt) as session:
            yield session
        return
    with lock, _session_transaction(rt) as session:
        yield session


@contextmanager
def _session_transaction(rt: Runtime) -> Iterator[Session]:
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
    """A route whose request runs in one thread-pool hop, inside one unit of work.

    For a plain ``def`` endpoint without a request body whose dependencies are only
    ``RuntimeDep``, ``PrincipalDep`` and ``PurposeDep``. FastAPI would make three hops (the
    token lookup, the endpoint, the response model's validation) and two transactions (the
    token's own, then the endpoint's: on SQLite two ``BEGIN IMMEDIATE``). Here the token is
    checked in the request's transaction, and the endpoint's ``unit_of_work`` joins it.

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
            with _transaction(rt) as session:
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
            context = copy_context()  # the request id and other bound log fields, in the worker thread too
            return await asyncio.get_running_loop().run_in_executor(
                _EXECUTOR, context.run, run, rt, headers.get("authorization"), headers.get("x-purpose"), values, errors
            )

        return handler


_EXECUTOR = ThreadPoolExecutor(max_workers=16, thread_name_prefix="lendshield-uow")
"""The one-hop routes' threads. A plain executor: anyio's ``to_thread`` (FastAPI's thread pool)
costs about twice its CPU per hop (cancel scopes, a capacity limiter); 16 threads bound the
transactions in flight, below the PostgreSQL pool (10 + 10 overflow) of ``db.make_engine``."""
