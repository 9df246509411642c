"""UK public-sector financial years: 1 April to 31 March, labelled ``2022/23``.

A financial year is named by the calendar year it starts in. Everything that buckets money
or handsets by year goes through ``financial_year`` so the boundary (31 March belongs to
the year that began the previous April) is decided in exactly one place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

_LABEL = re.compile(r"^\s*(?:FY\s*)?(\d{4})\s*[/\-]\s*(\d{2}|\d{4})\s*$", re.IGNORECASE)


@dataclass(frozen=True, order=True)
class FinancialYear:
    start_year: int

    @property
    def starts(self) -> date:
        return date(self.start_year, 4, 1)

    @property
    def ends(self) -> date:
        return date(self.start_year + 1, 3, 31)

    @property
    def label(self) -> str:
        return f"{self.start_year}/{(self.start_year + 1) % 100:02d}"

    def contains(self, day: date) -> bool:
        return self.starts <= day <= self.ends

    def days(self) -> int:
        """365, or 366 when the year holds a 29 February."""
        return (self.ends - self.starts).days + 1

    def shift(self, years: int) -> FinancialYear:
        return FinancialYear(self.start_year + years)

    def __str__(self) -> str:
        return self.label


def financial_year(day: date) -> FinancialYear:
    """The financial year holding ``day``: January to March belong to the previous April."""
    return FinancialYear(day.year if day.month >= 4 else day.year - 1)


def parse_year(text: str) -> FinancialYear:
    """``2022/23``, ``FY2022/23``, ``2022-23`` or ``2022/2023``; the two years must follow."""
    found = _LABEL.match(text)
    if not found:
        raise ValueError(f"{text!r} is not a financial year (like 2022/23)")
    start, end_text = int(found.group(1)), found.group(2)
    end = int(end_text) if len(end_text) == 4 else (start // 100) * 100 + int(end_text)
    if len(end_text) == 2 and end < start:
        end += 100  # 1999/00
    if end != start + 1:
        raise ValueError(f"{text!r}: a financial year runs from one April to the next")
    return FinancialYear(start)


def years_between(first: FinancialYear, last: FinancialYear) -> list[FinancialYear]:
    return [FinancialYear(y) for y in range(first.start_year, last.start_year + 1)]


def add_years(day: date, years: int) -> date:
    """The same day ``years`` later; 29 February lands on 28 February in a common year
    (a handset bought on a leap day is due on the last day of February, never in March,
    which could move it into the next financial year only if it crossed 31 March)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)
