"""Working-day arithmetic for request deadlines.

China's official holidays and adjusted working days (调休) come from ``chinese_calendar`` and the
holiday file; a year neither knows is counted by weekdays only and reported as estimated, so the
request can say so and operators are told to load that year's State Council notice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import chinese_calendar

from lendshield.rights.config import YearOverride


@dataclass(frozen=True, slots=True)
class Deadline:
    due: dt.date
    estimated_years: tuple[int, ...]
    """Years counted by weekdays only, for want of official data."""


class WorkCalendar:
    """``calendar`` is ``cn`` (official arrangement) or ``weekdays`` (Monday to Friday)."""

    def __init__(self, calendar: str, years: dict[int, YearOverride]) -> None:
        self._calendar = calendar
        self._years = years

    def is_working_day(self, day: dt.date) -> tuple[bool, bool]:
        """(working?, estimated?) for one day."""
        weekday = day.weekday() < 5
        if self._calendar == "weekdays":
            return weekday, False
        override = self._years.get(day.year)
        if override is not None:
            if day in override.workdays:
                return True, False
            if day in override.holidays:
                return False, False
            return weekday, False
        try:
            return bool(chinese_calendar.is_workday(day)), False
        except NotImplementedError:
            # The package knows no official data for this year: weekdays only, flagged.
            return weekday, True

    def add_working_days(self, start: dt.date, days: int) -> Deadline:
        """The ``days``-th working day after ``start`` (the day of receipt does not count)."""
        if days < 1:
            raise ValueError("days must be at least 1")
        day, counted, estimated = start, 0, set()
        while counted < days:
            day += dt.timedelta(days=1)
            working, guessed = self.is_working_day(day)
            if guessed:
                estimated.add(day.year)
            if working:
                counted += 1
        return Deadline(day, tuple(sorted(estimated)))

    def working_days_between(self, start: dt.date, end: dt.date) -> int:
        """Working days after ``start`` up to and including ``end`` (negative when ``end`` is earlier)."""
        if end < start:
            return -self.working_days_between(end, start)
        count, day = 0, start
        while day < end:
            day += dt.timedelta(days=1)
            count += self.is_working_day(day)[0]
        return count
