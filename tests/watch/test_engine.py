"""The watch job: batches and cursor, the periodic task, the queue job, an end-to-end read over
HTTP, and watch.yaml refusing what it cannot mean."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from lendshield.clock import FrozenClock
from lendshield.jobs import default_runner
from lendshield.ops import queue
from lendshield.ops.models import JobRow
from lendshield.runtime import Runtime
from lendshield.watch import config, engine, jobs
from lendshield.watch.errors import WatchConfigInvalid
from tests.watch.conftest import alerts, borrower, evidence, run, write

SHIPPED = Path(config.__file__).resolve().parent.parent / "policies" / "watch.yaml"


def test_small_batches_find_what_one_big_batch_finds(rt: Runtime, make_actor) -> None:  # type: ignore[no-untyped-def]
    agent = make_actor("customer_service").principal
    noise = make_actor("loan_system").principal
    for i in range(5):  # five refusals, interleaved with other work, spread over several batches
        write(rt, noise.id, [f"n-{i}-{j}" for j in range(7)], action="subject.create", decision="")
        write(rt, agent.id, [f"d-{i}"], decision="deny")
    cfg = config.parse(SHIPPED.read_text(encoding="utf-8").replace("batch_size: 2000", "batch_size: 10"))
    batches = 0
    while True:
        with rt.sessions() as session:
            processed, _ = engine.run_batch(session, rt, cfg)
            session.commit()
        if processed == 0:
            break
        batches += 1
    assert batches >= 4
    (alert,) = alerts(rt, "repeated-denials")
    assert alert.measure == 5
    assert len(evidence(rt, alert.id)) == 5
    with rt.sessions() as session:
        assert engine.cursor(session) >= 39
    assert run(rt).alerts_raised == 0  # the cursor moved past everything: nothing is seen twice


def test_periodic_task_and_queue_job(rt: Runtime, make_actor, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
    runner = default_runner(rt)
    agent = make_actor("customer_service").principal
    write(rt, agent.id, [f"d-{i}" for i in range(5)], decision="deny")
    runner.run_pending()  # what a web process's job thread does every interval
    runner.stop(30)  # and its queue work (backups, drills, the queue-only checks), which runs beside it
    assert len(alerts(rt, "repeated-denials")) == 1

    queue.load_handler_modules(["lendshield.watch.jobs"])
    with rt.sessions() as session:
        assert jobs.queue_next(session, rt) is not None
        assert jobs.queue_next(session, rt) is None  # one waiting run is enough
        session.commit()
    clock.advance(timedelta(minutes=20))
    write(rt, agent.id, [f"e-{i}" for i in range(5)], decision="deny")
    clock.advance(timedelta(seconds=10))
    assert queue.run_one(rt, "test-worker", kinds=("watch.run",))
    assert len(alerts(rt, "repeated-denials")) == 2
    with rt.sessions() as session:
        kinds = [(j.kind, j.status) for j in session.scalars(select(JobRow).where(JobRow.kind == "watch.run").order_by(JobRow.id))]
    assert kinds == [("watch.run", "done"), ("watch.run", "queued")]  # each run queues the next


def test_a_collector_reading_outside_assignment_over_http(rt: Runtime, client: TestClient, make_actor) -> None:  # type: ignore[no-untyped-def]
    collector = make_actor("collector")
    writer = make_actor("loan_system").principal
    mine = borrower(rt, writer, collector_id=collector.principal.id)
    other = borrower(rt, writer)
    headers = {**collector.headers, "X-Purpose": "collection"}
    assert client.get(f"/v1/subjects/{mine}", headers=headers).status_code == 200
    refused = client.get(f"/v1/subjects/{other}", headers=headers)
    assert refused.status_code == 403  # the gate refuses it; the watch notices the attempt
    assert run(rt).alerts_raised == 1
    (alert,) = alerts(rt)
    assert (alert.rule_id, alert.actor) == ("read-unassigned", collector.principal.id)


BAD = [
    ("version: 2\n", "version"),
    ("version: 1\ntimezone: Mars/Olympus\n", "timezone"),
    ("version: 1\nrules:\n  off_hours:\n    end: 21:00\n", "HH:MM"),
    ('version: 1\nrules:\n  off_hours:\n    start: "21:00"\n    end: "08:00"\n', "start must be before end"),
    ("version: 1\nrules:\n  repeated_denials:\n    threshold: 0\n", "threshold"),
    ("version: 1\nrules:\n  bulk_exports: {}\n", "bulk_exports"),
    ("version: 1\nrules: [\n", "not valid YAML"),
    ("- 1\n", "mapping"),
]


@pytest.mark.parametrize(("text", "says"), BAD)
def test_config_refuses_what_it_cannot_mean(text: str, says: str) -> None:
    with pytest.raises(WatchConfigInvalid) as err:
        config.parse(text)
    assert says in err.value.detail


def test_shipped_config_and_its_copy() -> None:
    cfg = config.parse(SHIPPED.read_text(encoding="utf-8"))
    assert cfg.rules.subjects_per_hour.norm_for(frozenset({"collector"})) == 60
    assert cfg.timezone == "Asia/Shanghai"
    top = Path(__file__).resolve().parents[2] / "policies" / "watch.yaml"
    assert top.read_text(encoding="utf-8") == SHIPPED.read_text(encoding="utf-8")


def test_concurrent_runs_take_turns(rt: Runtime, make_actor) -> None:  # type: ignore[no-untyped-def]
    import threading

    agent = make_actor("customer_service").principal
    write(rt, agent.id, [f"d-{i}" for i in range(5)], decision="deny")
    results: list[engine.RunResult] = []
    errors: list[BaseException] = []

    def go() -> None:
        try:
            results.append(engine.run(rt))
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=go) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sum(r.alerts_raised for r in results) == 1  # the cursor lock makes them take turns
    assert len(alerts(rt)) == 1


def test_a_kept_history_is_dropped_when_another_process_moved_the_cursor(rt: Runtime, make_actor) -> None:  # type: ignore[no-untyped-def]
    agent = make_actor("customer_service").principal
    mine = engine.History()  # as a web process keeps it between ticks
    write(rt, agent.id, ["d-1", "d-2", "d-3"], decision="deny")
    assert engine.run(rt, history=mine).alerts_raised == 0
    write(rt, agent.id, ["d-4"], decision="deny")
    assert engine.run(rt).alerts_raised == 0  # another process (a worker) took this one
    write(rt, agent.id, ["d-5"], decision="deny")
    assert engine.run(rt, history=mine).alerts_raised == 1  # all five seen, not three plus one
    (alert,) = alerts(rt)
    assert alert.measure == 5


def test_a_canary_read_alerts_within_seconds_in_a_running_service(settings, clock: FrozenClock, tmp_path: Path, make_actor) -> None:  # type: ignore[no-untyped-def]
    import shutil
    import time

    from lendshield.runtime import build_runtime
    from lendshield.settings import Settings
    from lendshield.watch import canaries
    from lendshield.web.app import create_app

    policies = tmp_path / "policies"
    shutil.copytree(SHIPPED.parent, policies)
    text = SHIPPED.read_text(encoding="utf-8").replace("interval_seconds: 5", "interval_seconds: 1")
    (policies / "watch.yaml").write_text(text, encoding="utf-8")
    live = Settings(
        environment="test", data_dir=settings.data_dir, database_url=settings.database_url, policies_dir=policies, jobs_enabled=True
    )
    rt = build_runtime(live, clock=clock)
    try:
        officer = make_actor("protection_officer").principal
        with rt.sessions() as session:
            (canary,) = canaries.create_canaries(session, rt, officer, 1)
            session.commit()
        risk = make_actor("risk_officer")
        with TestClient(create_app(runtime=rt), raise_server_exceptions=False) as client:
            read = client.get(f"/v1/subjects/{canary.subject_id}", headers={**risk.headers, "X-Purpose": "fraud_prevention"})
            assert read.status_code == 200
            started = time.monotonic()
            while not alerts(rt, "canary-touch") and time.monotonic() - started < 15:
                time.sleep(0.2)
            waited = time.monotonic() - started
        (alert,) = alerts(rt, "canary-touch")
        assert alert.actor == risk.principal.id
        assert waited < 5  # the web process's own job thread raised it, no manual run
    finally:
        rt.engine.dispose()
