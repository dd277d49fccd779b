"""Contact rules at their boundaries, with the clock moved (issue 7, Proof).

China preset: GB/T 45251-2025 and the China Banking Association guideline (REGULATION.md,
"collection hours" and "call frequency", [S]): no contact 22:00-08:00 in the person's own time
zone; at most 3 connected calls per debtor per day; at most 6 unanswered attempts per number per
day; emergency contacts only once the debtor is unreachable. United States: Regulation F,
12 CFR 1006.6(b)(1)(i) (08:00-21:00 local), 1006.14(b)(2)(i) (7 calls in 7 days per debt) and
1006.14(b)(2)(ii) (no call within 7 days after a conversation).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from lendshield.collection.rules import Attempt, Past, evaluate, load_rules
from lendshield.settings import Settings

RULES = load_rules(Settings().policies_dir)
CN = RULES.presets["cn"]
US = RULES.presets["us_regf"]
SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")


def local(tz: ZoneInfo, y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=tz).astimezone(UTC)


def attempt(now: datetime, tz: ZoneInfo = SHANGHAI, *, channel: str = "call", target: str = "debtor-1", role: str = "debtor") -> Attempt:
    return Attempt("L-1", channel, target, role, tz, now)  # type: ignore[arg-type]


def call(at: datetime, outcome: str, *, target: str = "debtor-1", role: str = "debtor", loan: str = "L-1") -> Past:
    return Past(at, loan, "call", target, role, outcome)


@pytest.mark.parametrize(
    ("hour", "minute", "allowed"),
    [(7, 59, False), (8, 0, True), (21, 59, True), (22, 0, False), (23, 30, False), (2, 0, False), (12, 0, True)],
)
@pytest.mark.parametrize("channel", ["call", "sms", "visit"])
def test_cn_hours_in_the_persons_time_zone(hour: int, minute: int, allowed: bool, channel: str) -> None:
    now = local(SHANGHAI, 2026, 12, 1, hour, minute)
    verdict = evaluate(CN, attempt(now, channel=channel), [])
    assert (verdict is None) is allowed
    if not allowed:
        assert verdict is not None
        assert verdict.rule_id == "cn-hours"
        # The next allowed moment is 08:00 local, today or tomorrow.
        assert verdict.next_allowed_at is not None
        nxt = verdict.next_allowed_at.astimezone(SHANGHAI)
        assert (nxt.hour, nxt.minute) == (8, 0)
        assert nxt > now


def test_hours_follow_the_contacted_persons_zone_not_the_servers() -> None:
    # 22:30 in Shanghai is 09:30 in New York: a New York borrower may be called under the cn hours.
    now = local(SHANGHAI, 2026, 12, 1, 22, 30)
    assert evaluate(CN, attempt(now, tz=SHANGHAI), []) is not None
    assert evaluate(CN, attempt(now, tz=NEW_YORK), []) is None


def test_fourth_connected_call_of_the_day_is_refused() -> None:
    day = [call(local(SHANGHAI, 2026, 12, 1, h), "connected") for h in (9, 11, 14)]
    now = local(SHANGHAI, 2026, 12, 1, 16)
    verdict = evaluate(CN, attempt(now), day)
    assert verdict is not None
    assert verdict.rule_id == "cn-connected-calls"
    assert verdict.next_allowed_at == local(SHANGHAI, 2026, 12, 2, 8)
    assert evaluate(CN, attempt(now), day[:2]) is None  # the third is still allowed
    # A new local day starts the count again.
    assert evaluate(CN, attempt(local(SHANGHAI, 2026, 12, 2, 9)), day) is None


def test_seventh_unanswered_attempt_to_a_number_is_refused() -> None:
    missed = [call(local(SHANGHAI, 2026, 12, 1, 9, m), "unanswered") for m in range(0, 60, 10)]
    now = local(SHANGHAI, 2026, 12, 1, 10)
    verdict = evaluate(CN, attempt(now), missed)
    assert verdict is not None
    assert verdict.rule_id == "cn-unanswered-attempts"
    assert evaluate(CN, attempt(now), missed[:5]) is None  # the sixth attempt is allowed
    # The cap is per number: another person's number is not affected by these misses.
    contact = attempt(now, target="contact-1", role="guarantor")
    assert evaluate(CN, contact, missed) is None


def test_calls_still_pending_count_as_unanswered() -> None:
    pending = [call(local(SHANGHAI, 2026, 12, 1, 9, m), "pending") for m in range(6)]
    verdict = evaluate(CN, attempt(local(SHANGHAI, 2026, 12, 1, 10)), pending)
    assert verdict is not None
    assert verdict.rule_id == "cn-unanswered-attempts"


def test_emergency_contact_only_after_the_debtor_is_unreachable() -> None:
    third = {"target": "contact-1", "role": "third_party"}
    start = local(SHANGHAI, 2026, 12, 1, 9)
    tries = [call(start + timedelta(hours=h), "unanswered") for h in (0, 24, 48)]
    early = evaluate(CN, attempt(start + timedelta(hours=71, minutes=59), **third), tries)
    assert early is not None
    assert early.rule_id == "cn-third-party"
    assert early.next_allowed_at == start + timedelta(hours=72)
    assert evaluate(CN, attempt(start + timedelta(hours=72), **third), tries) is None
    # Too few attempts: never allowed by waiting alone.
    few = evaluate(CN, attempt(start + timedelta(days=5), **third), tries[:2])
    assert few is not None
    assert few.next_allowed_at is None
    # A conversation with the debtor resets it: they are reachable.
    talked = [*tries, call(start + timedelta(hours=60), "connected")]
    assert evaluate(CN, attempt(start + timedelta(hours=80), **third), talked) is not None


def test_a_refusal_stops_contact_with_that_person() -> None:
    now = local(SHANGHAI, 2026, 12, 1, 10)
    verdict = evaluate(CN, attempt(now, target="g-1", role="guarantor"), [], frozenset({"g-1"}))
    assert verdict is not None
    assert verdict.rule_id == "cn-third-party-refused"
    assert evaluate(CN, attempt(now, target="g-2", role="guarantor"), [], frozenset({"g-1"})) is None


@pytest.mark.parametrize(("hour", "minute", "allowed"), [(7, 59, False), (8, 0, True), (20, 59, True), (21, 0, False)])
def test_regf_hours(hour: int, minute: int, allowed: bool) -> None:
    verdict = evaluate(US, attempt(local(NEW_YORK, 2026, 12, 1, hour, minute), tz=NEW_YORK), [])
    assert (verdict is None) is allowed
    if verdict is not None:
        assert verdict.rule_id == "regf-hours"


def test_regf_seven_calls_in_seven_days() -> None:
    start = local(NEW_YORK, 2026, 12, 1, 10)
    calls = [call(start + timedelta(days=d), "unanswered") for d in range(7)]
    eighth = start + timedelta(days=6, hours=2)
    verdict = evaluate(US, attempt(eighth, tz=NEW_YORK), calls)
    assert verdict is not None
    assert verdict.rule_id == "regf-7-in-7"
    assert verdict.next_allowed_at == start + timedelta(days=7)  # the first call leaves the window
    assert evaluate(US, attempt(eighth, tz=NEW_YORK), calls[:6]) is None
    assert evaluate(US, attempt(start + timedelta(days=7), tz=NEW_YORK), calls) is None
    # Per debt: calls about another loan do not count.
    other = [call(c.at, c.outcome, loan="L-2") for c in calls]
    assert evaluate(US, attempt(eighth, tz=NEW_YORK), other) is None


def test_regf_no_call_within_seven_days_after_a_conversation() -> None:
    talk = local(NEW_YORK, 2026, 12, 1, 10)
    history = [call(talk, "connected")]
    verdict = evaluate(US, attempt(talk + timedelta(days=6, hours=23), tz=NEW_YORK), history)
    assert verdict is not None
    assert verdict.rule_id == "regf-after-conversation"
    assert verdict.next_allowed_at == talk + timedelta(days=7)
    assert evaluate(US, attempt(talk + timedelta(days=7), tz=NEW_YORK), history) is None
    # Messages are not calls: the call rules do not hold them back.
    assert evaluate(US, attempt(talk + timedelta(days=1), tz=NEW_YORK, channel="sms"), history) is None


def test_a_broken_rules_file_is_refused_with_the_key(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from lendshield.errors import ConfigurationError

    (tmp_path / "collection.yaml").write_text(
        (Settings().policies_dir / "collection.yaml").read_text(encoding="utf-8").replace("max: 3", "max: 0"), encoding="utf-8"
    )
    with pytest.raises(ConfigurationError, match=r"connected_calls_per_day\.max"):
        load_rules(tmp_path)
