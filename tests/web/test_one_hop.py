"""OneHopRoute answers exactly as FastAPI's own resolution does, in one transaction.

The same endpoint is mounted twice, once as a plain APIRoute and once as a OneHopRoute, and every
combination of a bad token, a missing purpose and bad parameters must get the same answer from
both: the token first, then the purpose, then the parameters (FastAPI's order).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path as FilePath
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends, FastAPI, Path, Query
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import BaseModel
from sqlalchemy import event

from lendshield.crypto import LocalKeyFile
from lendshield.db.engine import UnitSession
from lendshield.errors import Forbidden
from lendshield.runtime import Runtime, build_runtime
from lendshield.settings import Settings
from lendshield.web import problem
from lendshield.web.deps import OneHopRoute, PrincipalDep, PurposeDep, RuntimeDep, hot_read_threads, unit_of_work

ItemId = Annotated[str, Path(min_length=1, max_length=36, pattern=r"^[0-9a-f-]{36}$")]


@pytest.fixture
def settings(request: pytest.FixtureRequest, tmp_path: FilePath, db_url: str) -> Settings:
    """The hot read on the event loop, or on the threads a test names (``BOTH_WAYS``)."""
    data = tmp_path / "data"
    data.mkdir()
    LocalKeyFile.create(data / "keys.json")
    return Settings(environment="test", data_dir=data, database_url=db_url, hot_read_threads=getattr(request, "param", 0))


# Both ways the hot read can be served (``Settings.hot_read_threads``): on the loop, on two threads.
BOTH_WAYS = pytest.mark.parametrize("settings", [0, 2], ids=["on-the-loop", "two-threads"], indirect=True)


GOOD_ID = "00000000-0000-4000-8000-000000000000"


class ProbeOut(BaseModel):
    item: str
    who: str
    purpose: str
    tags: list[str]


def probe(
    item_id: ItemId, rt: RuntimeDep, who: PrincipalDep, purpose: PurposeDep, tags: Annotated[list[str] | None, Query(max_length=2)] = None
) -> ProbeOut:
    with unit_of_work(rt) as session:
        session.connection()
    return ProbeOut(item=item_id, who=who.name, purpose=purpose, tags=tags or [])


@pytest.fixture
def twin(rt: Runtime) -> Iterator[TestClient]:
    app = FastAPI()
    app.state.runtime = rt
    problem.install(app)
    plain = APIRouter(prefix="/plain", route_class=APIRoute)
    one_hop = APIRouter(prefix="/one-hop", route_class=OneHopRoute)
    for router in (plain, one_hop):
        router.add_api_route("/{item_id}", probe, methods=["GET"], response_model=ProbeOut)
        app.include_router(router)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def _count_checkouts(rt: Runtime) -> list[str]:
    """Connections taken from the pool: one per transaction (a unit of work holds one connection)."""
    taken: list[str] = []
    event.listen(rt.engine.pool, "checkout", lambda *_args: taken.append("checkout"))
    return taken


def _answer(client: TestClient, prefix: str, path: str, headers: dict[str, str]) -> tuple[int, Any]:
    resp = client.get(f"/{prefix}/{path}", headers=headers)
    return resp.status_code, resp.json()


@pytest.mark.parametrize("token", ["good", "unknown", "malformed", "missing"])
@pytest.mark.parametrize("purpose", ["loan_servicing", "  ", None])
@pytest.mark.parametrize("path", [GOOD_ID, "not-a-uuid", f"{GOOD_ID}?tags=a&tags=b&tags=c", f"{GOOD_ID}?tags=a"])
def test_same_answers_as_fastapi(twin: TestClient, make_actor, token: str, purpose: str | None, path: str) -> None:  # type: ignore[no-untyped-def]
    actor = make_actor("loan_system", name="probe")
    headers = {
        "good": actor.headers,
        "unknown": {"Authorization": "Bearer lsk_0123456789abcdef.nope"},
        "malformed": {"Authorization": "Basic abc"},
        "missing": {},
    }[token]
    if purpose is not None:
        headers = headers | {"X-Purpose": purpose}
    plain = _answer(twin, "plain", path, headers)
    one_hop = _answer(twin, "one-hop", path, headers)
    assert one_hop == plain
    if token != "good":
        assert one_hop[0] == 401
    elif purpose != "loan_servicing":
        assert one_hop[0] == 400
    elif path == GOOD_ID or path.endswith("tags=a"):
        assert one_hop[0] == 200
        assert one_hop[1]["who"] == "probe"
    else:
        assert one_hop[0] == 422


@BOTH_WAYS
def test_token_and_endpoint_share_one_transaction(twin: TestClient, rt: Runtime, make_actor) -> None:  # type: ignore[no-untyped-def]
    actor = make_actor("loan_system")
    checkouts = _count_checkouts(rt)
    assert twin.get(f"/plain/{GOOD_ID}", headers=actor.headers | {"X-Purpose": "loan_servicing"}).status_code == 200
    plain = len(checkouts)
    assert twin.get(f"/one-hop/{GOOD_ID}", headers=actor.headers | {"X-Purpose": "loan_servicing"}).status_code == 200
    assert plain == 2  # FastAPI's resolution: the token's own session, then the endpoint's
    assert len(checkouts) - plain == 1


@BOTH_WAYS
def test_masked_read_is_one_transaction_and_a_refusal_keeps_its_entry(client: TestClient, rt: Runtime, make_actor, row_counts) -> None:  # type: ignore[no-untyped-def]
    writer = make_actor("loan_system")
    sid = client.post("/v1/subjects", json={"fields": {"mobile": "13812345678"}}, headers=writer.headers).json()["id"]
    checkouts = _count_checkouts(rt)
    ok = client.get(f"/v1/subjects/{sid}", headers=writer.headers | {"X-Purpose": "loan_servicing"})
    assert ok.status_code == 200
    assert ok.headers["content-type"] == "application/json"
    assert ok.json()["fields"]["mobile"]["shown"] == "mask"
    assert len(checkouts) == 1
    before = row_counts()["ledger_entries"]
    refused = client.get(f"/v1/subjects/{sid}", headers=writer.headers | {"X-Purpose": "marketing"})
    assert refused.status_code == 403, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert row_counts()["ledger_entries"] == before + 1  # the refusal is written down, in the request's one transaction
    missing = client.get(f"/v1/subjects/{GOOD_ID}", headers=writer.headers | {"X-Purpose": "loan_servicing"})
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert "x-request-id" in missing.headers


def test_an_inclusion_dependency_is_never_skipped(rt: Runtime, make_actor) -> None:  # type: ignore[no-untyped-def]
    # A router included with dependencies of its own gets FastAPI's own handler, which runs them.
    def refuse() -> None:
        raise Forbidden("the inclusion's own dependency ran")

    app = FastAPI()
    app.state.runtime = rt
    problem.install(app)
    router = APIRouter(prefix="/guarded", route_class=OneHopRoute)
    router.add_api_route("/{item_id}", probe, methods=["GET"], response_model=ProbeOut)
    app.include_router(router, dependencies=[Depends(refuse)])
    actor = make_actor("loan_system")
    with TestClient(app) as client:
        resp = client.get(f"/guarded/{GOOD_ID}", headers=actor.headers | {"X-Purpose": "loan_servicing"})
    assert resp.status_code == 403
    assert resp.json()["detail"] == "the inclusion's own dependency ran"


class WhereOut(BaseModel):
    thread: str
    on_loop: bool


def where(rt: RuntimeDep, who: PrincipalDep) -> WhereOut:
    try:
        asyncio.get_running_loop()
        on_loop = True
    except RuntimeError:
        on_loop = False
    return WhereOut(thread=threading.current_thread().name, on_loop=on_loop)


@BOTH_WAYS
def test_runs_where_the_setting_says(rt: Runtime, make_actor) -> None:  # type: ignore[no-untyped-def]
    # 0: the event loop's own thread, no hop; N: one of the N threads of the one-hop pool.
    app = FastAPI()
    app.state.runtime = rt
    problem.install(app)
    router = APIRouter(route_class=OneHopRoute)
    router.add_api_route("/where", where, methods=["GET"], response_model=WhereOut)
    app.include_router(router)
    actor = make_actor("loan_system")
    with TestClient(app) as client:
        answers = [client.get("/where", headers=actor.headers).json() for _ in range(5)]
    if hot_read_threads(rt) == 0:
        assert all(a["on_loop"] for a in answers)
        assert not any(a["thread"].startswith("lendshield-uow") for a in answers)
    else:
        assert not any(a["on_loop"] for a in answers)
        assert all(a["thread"].startswith("lendshield-uow") for a in answers)
        assert len({a["thread"] for a in answers}) <= hot_read_threads(rt)


@BOTH_WAYS
def test_the_masked_read_stays_an_autocommit_unit(client: TestClient, rt: Runtime, make_actor, monkeypatch, row_counts) -> None:  # type: ignore[no-untyped-def]
    # Token, load and gate only read; the one write is the entry's one statement, so no BEGIN or
    # COMMIT is sent and no lock is held across statements (nothing turned it into a transaction).
    writer = make_actor("loan_system")
    sid = client.post("/v1/subjects", json={"fields": {"mobile": "13812345678"}}, headers=writer.headers).json()["id"]
    ended: list[bool] = []
    original = UnitSession._end_lane

    def spy(self: UnitSession, *, clean: bool = False) -> None:
        if self._lane is not None:
            ended.append(self._lane.autocommit)
        original(self, clean=clean)

    monkeypatch.setattr(UnitSession, "_end_lane", spy)
    before = row_counts()["ledger_entries"]
    for purpose, status in [("loan_servicing", 200), ("marketing", 403)]:
        resp = client.get(f"/v1/subjects/{sid}", headers=writer.headers | {"X-Purpose": purpose})
        assert resp.status_code == status, resp.text
    assert ended[:2] == [True, True]
    assert row_counts()["ledger_entries"] == before + 2


@BOTH_WAYS
def test_the_default_is_the_loop_on_sqlite_and_two_threads_on_postgresql(rt: Runtime) -> None:
    assert hot_read_threads(rt) == rt.settings.hot_read_threads  # set: as set
    unset = build_runtime(rt.settings.model_copy(update={"hot_read_threads": None}))
    try:
        assert hot_read_threads(unset) == (0 if rt.engine.dialect.name == "sqlite" else 2)
    finally:
        unset.engine.dispose()


def test_an_in_memory_database_keeps_whole_units_apart(tmp_path: FilePath) -> None:
    # One connection serves every thread there, so an autocommit read could land inside another
    # thread's transaction: the unit is an ordinary queued transaction instead.
    from lendshield.web.deps import _transaction

    data = tmp_path / "memory"
    data.mkdir()
    LocalKeyFile.create(data / "keys.json")
    memory = build_runtime(Settings(environment="test", data_dir=data, database_url="sqlite://", jobs_enabled=False))
    try:
        with _transaction(memory, autocommit=True) as session:
            assert isinstance(session, UnitSession)
            assert not session.statement_autocommit
    finally:
        memory.engine.dispose()


@BOTH_WAYS
@pytest.mark.parametrize("case", ["good", "bad-token", "no-purpose", "bad-path"])
def test_same_answers_both_ways(twin: TestClient, make_actor, case: str) -> None:  # type: ignore[no-untyped-def]
    # The whole matrix runs on the loop (test_same_answers_as_fastapi); one case of each kind here.
    actor = make_actor("loan_system", name="probe")
    headers = {"bad-token": {"Authorization": "Bearer lsk_0123456789abcdef.nope"}}.get(case, actor.headers)
    if case != "no-purpose":
        headers = headers | {"X-Purpose": "loan_servicing"}
    path = "not-a-uuid" if case == "bad-path" else GOOD_ID
    assert _answer(twin, "one-hop", path, headers) == _answer(twin, "plain", path, headers)
