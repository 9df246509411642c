"""Working days: weekdays that are not England and Wales bank holidays.

Bank holidays come from the maintained ``holidays`` package (England and Wales share one
list), so an added holiday (a coronation, a state funeral) arrives with a package update
rather than an edit here.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from functools import cache

import holidays


@cache
def bank_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year))


def is_working_day(day: date, extra_closures: Iterable[date] = ()) -> bool:
    return day.weekday() < 5 and day not in bank_holidays(day.year) and day not in set(
        extra_closures
    )


def working_days(first: date, last: date, closures: Iterable[date] = ()) -> list[date]:
    """Every working day from ``first`` to ``last`` inclusive."""
    closed = set(closures)
    out = []
    day = first
    while day <= last:
        if day.weekday() < 5 and day not in bank_holidays(day.year) and day not in closed:
            out.append(day)
        day += timedelta(days=1)
    return out


def working_days_after(first: date, count: int, closures: Iterable[date] = ()) -> list[date]:
    """``count`` working days starting at ``first`` (inclusive)."""
    closed = set(closures)
    out: list[date] = []
    day = first
    while len(out) < count:
        if day.weekday() < 5 and day not in bank_holidays(day.year) and day not in closed:
            out.append(day)
        day += timedelta(days=1)
    return out
