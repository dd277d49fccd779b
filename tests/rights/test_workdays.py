"""Working-day arithmetic on China's official calendar (chinese_calendar's 2025/2026 data).

Sources: 国务院办公厅关于2025年部分节假日安排的通知 (2025 Spring Festival 28 Jan - 4 Feb, work on
Sun 26 Jan and Sat 8 Feb; National Day 1-8 Oct, work on Sun 28 Sep and Sat 11 Oct) and
国务院办公厅关于2026年部分节假日安排的通知 (2026 Spring Festival 15-23 Feb, work on Sat 14 Feb
and Sat 28 Feb). The 15-working-day cap: CAC 《App违法违规收集使用个人信息行为认定方法》 (2019).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from lendshield.rights.config import RightsRulesInvalid, load_holidays, load_rules
from lendshield.rights.workdays import WorkCalendar

CN = WorkCalendar("cn", {})
D = dt.date


def test_the_official_days_the_tests_rely_on() -> None:
    assert CN.is_working_day(D(2026, 2, 14)) == (True, False)  # adjusted working Saturday
    assert CN.is_working_day(D(2026, 2, 28)) == (True, False)  # adjusted working Saturday
    assert CN.is_working_day(D(2026, 2, 16)) == (False, False)  # Spring Festival, a Monday
    assert CN.is_working_day(D(2025, 10, 11)) == (True, False)  # adjusted working Saturday


def test_fifteen_working_days_across_the_2026_spring_festival() -> None:
    # Received Tue 10 Feb 2026. Counted: 11, 12, 13, Sat 14 (worked), [15-23 off], 24, 25, 26, 27,
    # Sat 28 (worked), 2, 3, 4, 5, 6 March, Mon 9 March = 15.
    assert CN.add_working_days(D(2026, 2, 10), 15).due == D(2026, 3, 9)
    # By weekdays only it would be 3 March: the holiday week and both Saturdays matter.
    assert WorkCalendar("weekdays", {}).add_working_days(D(2026, 2, 10), 15).due == D(2026, 3, 3)


def test_an_adjusted_working_saturday_counts_as_the_first_day() -> None:
    # Received Fri 13 Feb 2026: the next working day is Saturday 14 Feb, then 24 Feb.
    assert CN.add_working_days(D(2026, 2, 13), 1).due == D(2026, 2, 14)
    assert CN.add_working_days(D(2026, 2, 13), 2).due == D(2026, 2, 24)


def test_2025_national_day_and_its_working_saturday() -> None:
    # Received Tue 30 Sep 2025: 1-8 Oct off; Thu 9, Fri 10, Sat 11 (worked), 13-17, 20-24, 27, Tue 28.
    assert CN.add_working_days(D(2025, 9, 30), 3).due == D(2025, 10, 11)
    assert CN.add_working_days(D(2025, 9, 30), 15).due == D(2025, 10, 28)


def test_a_deadline_crossing_into_2027_is_counted_by_weekdays_and_flagged() -> None:
    # Received Tue 15 Dec 2026: 16-18, 21-25, 28-31 Dec (12 days), then 2027 has no official data.
    result = CN.add_working_days(D(2026, 12, 15), 15)
    assert result.due == D(2027, 1, 5)
    assert result.estimated_years == (2027,)
    within = CN.add_working_days(D(2026, 12, 1), 15)
    assert within.estimated_years == ()


def test_the_holiday_file_adds_a_year_and_clears_the_flag(tmp_path: Path) -> None:
    path = tmp_path / "holidays.yaml"
    path.write_text(
        "years:\n  2027:\n    source: 国务院办公厅关于2027年部分节假日安排的通知\n    holidays: [2027-01-01]\n    workdays: []\n",
        encoding="utf-8",
    )
    cal = WorkCalendar("cn", load_holidays(path))
    result = cal.add_working_days(D(2026, 12, 15), 15)
    assert result.due == D(2027, 1, 6)
    assert result.estimated_years == ()


def test_the_holiday_file_overrides_a_known_year(tmp_path: Path) -> None:
    path = tmp_path / "holidays.yaml"
    path.write_text("years:\n  2026:\n    source: correction\n    holidays: [2026-03-02]\n    workdays: [2026-03-07]\n", encoding="utf-8")
    cal = WorkCalendar("cn", load_holidays(path))
    assert cal.is_working_day(D(2026, 3, 2)) == (False, False)
    assert cal.is_working_day(D(2026, 3, 7)) == (True, False)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("years:\n  2027:\n    holidays: [2027-01-01]\n", "source"),
        ("years:\n  2027:\n    source: x\n    holidays: [2026-01-01]\n", "not a date in 2027"),
        ("years:\n  2027:\n    source: x\n    holidays: [2027-01-01]\n    workdays: [2027-01-01]\n", "both"),
        ("years: [1, 2]\n", "mapping"),
        ("years: {\n", "YAML"),
    ],
)
def test_a_bad_holiday_file_names_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "holidays.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RightsRulesInvalid, match=message):
        load_holidays(path)


def test_shipped_rules_load_with_15_days_by_default() -> None:
    rules = load_rules(Path(__file__).parents[2] / "src" / "lendshield" / "policies")
    assert rules.jurisdictions["CN"].days_for("access") == 15
    assert rules.jurisdictions["CN"].days_for("report") == 10
    assert rules.code_max_attempts == 5


def test_working_days_between_counts_both_ways() -> None:
    assert CN.working_days_between(D(2026, 2, 13), D(2026, 2, 24)) == 2
    assert CN.working_days_between(D(2026, 2, 24), D(2026, 2, 13)) == -2


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("      default: 15\n", "      default: 0\n", "working_days.default must be an integer >= 1"),
        ("      report: 10 ", "      refund: 10 ", "refund: not a request type"),
        ("    calendar: cn\n", "    calendar: lunar\n", "calendar must be one of cn, weekdays"),
        ("default_jurisdiction: CN", "default_jurisdiction: HK", "default_jurisdiction"),
        ("  code_digits: 6", "  code_digits: four", "code_digits"),
    ],
)
def test_a_bad_rules_file_names_the_key(tmp_path: Path, old: str, new: str, message: str) -> None:
    shipped = Path(__file__).parents[2] / "src" / "lendshield" / "policies" / "rights.yaml"
    text = shipped.read_text(encoding="utf-8")
    assert old in text
    (tmp_path / "rights.yaml").write_text(text.replace(old, new), encoding="utf-8")
    with pytest.raises(RightsRulesInvalid, match=message):
        load_rules(tmp_path)
