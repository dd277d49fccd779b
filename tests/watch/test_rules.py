"""Each insider rule fires at its threshold and not one below, on both databases, with the clock moved.

Thresholds are the shipped defaults in policies/watch.yaml. R10 (MISSION.md): detect insider
misuse — access outside assignment, bulk or off-hours access; PIPL Art. 51 (access control and
security measures against unauthorised access).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lendshield.clock import FrozenClock
from lendshield.runtime import Runtime
from tests.watch.conftest import alerts, borrower, contacts_of, evidence, run, write


def _ids(prefix: str, n: int) -> list[str]:
    return [f"{prefix}-{i:05d}" for i in range(n)]


def test_subjects_per_hour_fires_above_the_role_norm_and_not_at_it(rt: Runtime, make_actor, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
    agent = make_actor("customer_service").principal  # norm 120 distinct people an hour
    seqs = write(rt, agent.id, _ids("p", 60))
    seqs += write(rt, agent.id, _ids("p", 120)[60:], action="subject.console")  # any path through the gate is a read
    write(rt, agent.id, ["p-00000"] * 30)  # the same person again is not another person
    write(rt, agent.id, _ids("x", 300), action="subject.export")  # an export's people: the bulk-export rule's
    write(rt, agent.id, _ids("y", 300), action="subject.create")  # writing is not reading
    clock.advance(timedelta(minutes=59))
    run(rt)
    assert alerts(rt, "subjects-per-hour") == []
    seqs += write(rt, agent.id, ["p-new"])
    assert run(rt).alerts_raised == 1
    (alert,) = alerts(rt, "subjects-per-hour")
    assert (alert.actor, alert.severity, alert.measure, alert.threshold) == (agent.id, "medium", 121, 121)
    assert alert.facts["norm"] == 120
    assert set(seqs) <= set(evidence(rt, alert.id))


def test_subjects_per_hour_window_slides_and_norms_follow_roles(rt: Runtime, make_actor, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
    agent = make_actor("customer_service").principal
    both = make_actor("collector", "risk_officer").principal  # norms 60 and 200: the higher applies
    loader = make_actor("loan_system").principal  # no norm: integrations read in bulk by design
    write(rt, agent.id, _ids("a", 120))
    clock.advance(timedelta(minutes=1))
    write(rt, both.id, _ids("b", 200))
    write(rt, loader.id, _ids("c", 500))
    clock.advance(timedelta(minutes=59))  # the first 120 are now exactly an hour old: out of the window
    write(rt, agent.id, ["a-late"])
    write(rt, both.id, _ids("b", 200))  # the same 200 people again: still 200 distinct
    run(rt)
    assert alerts(rt, "subjects-per-hour") == []
    write(rt, both.id, ["b-extra"])
    run(rt)
    assert [a.actor for a in alerts(rt, "subjects-per-hour")] == [both.id]


def test_collector_reading_outside_assignment(rt: Runtime, make_actor) -> None:  # type: ignore[no-untyped-def]
    collector = make_actor("collector").principal
    supervisor = make_actor("collection_supervisor").principal
    writer = make_actor("loan_system").principal
    mine = borrower(rt, writer, collector_id=collector.id)
    theirs = borrower(rt, writer, collector_id=make_actor("collector").principal.id)
    write(rt, collector.id, [mine, *contacts_of(rt, mine)])  # the case and its emergency contact
    write(rt, supervisor.id, [theirs])  # the rule is about collectors' assignments
    run(rt)
    assert alerts(rt, "read-unassigned") == []
    seq = write(rt, collector.id, [theirs], decision="deny")  # a refused attempt is still an attempt
    assert run(rt).alerts_raised == 1
    (alert,) = alerts(rt, "read-unassigned")
    assert (alert.actor, alert.severity, alert.measure) == (collector.id, "high", 1)
    assert evidence(rt, alert.id) == seq


def test_off_hours_boundaries_in_beijing_time(rt: Runtime, make_actor, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
    agent = make_actor("customer_service").principal
    loader = make_actor("loan_system").principal
    clock.set(datetime(2026, 11, 23, 12, 59, 59, tzinfo=UTC))  # 20:59:59 in Asia/Shanghai: still working hours
    write(rt, agent.id, ["s-1"])
    clock.set(datetime(2026, 11, 24, 0, 0, tzinfo=UTC))  # 08:00:00 the next day: working hours again
    write(rt, agent.id, ["s-2"])
    clock.set(datetime(2026, 11, 23, 15, 0, tzinfo=UTC))  # 23:00: the loan system works at night by design
    write(rt, loader.id, ["s-3"])
    run(rt)
    assert alerts(rt, "off-hours-read") == []
    clock.set(datetime(2026, 11, 23, 13, 0, tzinfo=UTC))  # 21:00:00 local: off hours begin
    first = write(rt, agent.id, ["s-4"])
    assert run(rt).alerts_raised == 1
    clock.set(datetime(2026, 11, 23, 23, 59, 59, tzinfo=UTC))  # 07:59:59 next morning: the same night
    second = write(rt, agent.id, ["s-5"])
    assert run(rt).alerts_raised == 0
    (alert,) = alerts(rt, "off-hours-read")
    assert evidence(rt, alert.id) == first + second
    assert alert.measure == 2
    assert alert.facts["after_working_day"] == "2026-11-23"
    clock.set(datetime(2026, 11, 24, 13, 30, tzinfo=UTC))  # 21:30 on Tuesday: another night, another alert
    write(rt, agent.id, ["s-6"])
    assert run(rt).alerts_raised == 1


def test_repeated_denials_threshold_and_window(rt: Runtime, make_actor, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
    agent = make_actor("customer_service").principal
    write(rt, agent.id, ["d-1", "d-2", "d-3", "d-4"], decision="deny")
    write(rt, agent.id, ["d-5"], action="device.approve", decision="deny")  # a checker saying no is not being refused
    write(rt, agent.id, ["d-6"], decision="partial")  # some fields shown: not a refusal
    run(rt)
    assert alerts(rt, "repeated-denials") == []
    clock.advance(timedelta(minutes=9, seconds=59))
    fifth = write(rt, agent.id, [None], action="device.request", decision="refused")
    assert run(rt).alerts_raised == 1
    (alert,) = alerts(rt, "repeated-denials")
    assert (alert.measure, alert.threshold) == (5, 5)
    assert fifth[0] in evidence(rt, alert.id)

    other = make_actor("customer_service").principal
    write(rt, other.id, ["e-1", "e-2", "e-3", "e-4"], decision="deny")
    clock.advance(timedelta(minutes=10))  # the four are now outside the 10-minute window
    write(rt, other.id, ["e-5"], decision="deny")
    run(rt)
    assert [a.actor for a in alerts(rt, "repeated-denials")] == [agent.id]


def test_bulk_export_by_records_in_the_window(rt: Runtime, make_actor, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
    exporter = make_actor("risk_officer").principal
    write(rt, exporter.id, [None], action="transfer.export", details={"rows": 998})
    write(rt, exporter.id, [None], action="transfer.provision")  # no count in the details: counts as one
    write(rt, exporter.id, [None], action="transfer.view", details={"rows": 5000})  # not an export action
    write(rt, exporter.id, [None], action="transfer.export", decision="deny", details={"people": 5000})  # refused: nothing left
    clock.advance(timedelta(hours=23))
    run(rt)
    assert alerts(rt, "bulk-export") == []
    last = write(rt, exporter.id, [None], action="transfer.export", decision="allow", details={"people": 1, "fields": ["name"]})
    assert run(rt).alerts_raised == 1
    (alert,) = alerts(rt, "bulk-export")
    assert (alert.severity, alert.measure, alert.threshold) == ("high", 1000, 1000)
    assert last[0] in evidence(rt, alert.id)

    single = make_actor("customer_service").principal
    write(rt, single.id, [None], action="transfer.export", details={"rows": 999})
    clock.advance(timedelta(hours=24))  # yesterday's 999 no longer count
    write(rt, single.id, [None], action="transfer.export", details={"rows": 999})
    run(rt)
    assert [a.actor for a in alerts(rt, "bulk-export")] == [exporter.id]
    write(rt, single.id, [None], action="transfer.export", details={"subjects": list(range(1000))})
    run(rt)
    assert sorted(a.actor for a in alerts(rt, "bulk-export")) == sorted([exporter.id, single.id])


def test_dedup_per_rule_actor_and_window(rt: Runtime, make_actor, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
    agent = make_actor("customer_service").principal
    first = write(rt, agent.id, [f"x-{i}" for i in range(5)], decision="deny")
    assert run(rt).alerts_raised == 1
    assert run(rt).alerts_raised == 0  # nothing new: nothing raised
    clock.advance(timedelta(minutes=3))
    more = write(rt, agent.id, ["x-9"], decision="deny")  # same 10-minute window: evidence, not a new alert
    assert run(rt).alerts_raised == 0
    (alert,) = alerts(rt, "repeated-denials")
    assert evidence(rt, alert.id) == first + more
    assert (alert.trigger_count, alert.measure) == (6, 6)
    clock.advance(timedelta(minutes=10))
    write(rt, agent.id, [f"y-{i}" for i in range(5)], decision="deny")  # the next window: a new alert
    assert run(rt).alerts_raised == 1
    assert len(alerts(rt, "repeated-denials")) == 2
