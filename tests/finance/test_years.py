"""Financial years run 1 April – 31 March; the boundaries and leap years are where bugs live."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mobilise.finance.money import format_millions, format_pounds, parse_pounds
from mobilise.finance.years import (
    FinancialYear,
    add_years,
    financial_year,
    parse_year,
    years_between,
)

DAYS = st.dates(min_value=date(1901, 1, 1), max_value=date(2198, 12, 31))


def test_31_march_belongs_to_the_year_that_began_the_april_before() -> None:
    assert financial_year(date(2023, 3, 31)).label == "2022/23"
    assert financial_year(date(2023, 4, 1)).label == "2023/24"
    assert financial_year(date(2022, 4, 1)).label == "2022/23"
    assert financial_year(date(2022, 3, 31)).label == "2021/22"
    assert financial_year(date(2023, 1, 1)).label == "2022/23"
    assert financial_year(date(2022, 12, 31)).label == "2022/23"


def test_leap_years() -> None:
    # 29 February 2024 is in 2023/24, which therefore has 366 days; 2024/25 has 365.
    assert financial_year(date(2024, 2, 29)) == FinancialYear(2023)
    assert FinancialYear(2023).days() == 366
    assert FinancialYear(2024).days() == 365
    assert FinancialYear(2099).days() == 365  # 2100 is not a leap year
    assert FinancialYear(1999).days() == 366  # 2000 is
    assert add_years(date(2024, 2, 29), 3) == date(2027, 2, 28)
    assert add_years(date(2024, 2, 29), 4) == date(2028, 2, 29)
    assert financial_year(add_years(date(2024, 2, 29), 1)).label == "2024/25"


def test_labels() -> None:
    assert parse_year("2022/23") == FinancialYear(2022)
    assert parse_year("FY2025/26") == FinancialYear(2025)
    assert parse_year("2024-25") == FinancialYear(2024)
    assert parse_year("2023/2024") == FinancialYear(2023)
    assert parse_year("1999/00").label == "1999/00"
    for bad in ("2022/24", "2022", "22/23", "2022/21", "FY"):
        with pytest.raises(ValueError):
            parse_year(bad)
    assert [y.label for y in years_between(FinancialYear(2022), FinancialYear(2024))] == [
        "2022/23", "2023/24", "2024/25"]


@given(DAYS)
def test_every_day_is_in_exactly_its_year(day: date) -> None:
    year = financial_year(day)
    assert year.contains(day)
    assert not year.shift(-1).contains(day) and not year.shift(1).contains(day)
    assert year.starts <= day <= year.ends
    assert parse_year(year.label) == year


@given(DAYS)
def test_consecutive_days_change_year_only_on_1_april(day: date) -> None:
    nxt = day + timedelta(days=1)
    changed = financial_year(nxt) != financial_year(day)
    assert changed == (nxt.month == 4 and nxt.day == 1)
    if changed:
        assert financial_year(nxt) == financial_year(day).shift(1)


@given(st.integers(min_value=1901, max_value=2198))
def test_years_tile_the_calendar(start: int) -> None:
    year = FinancialYear(start)
    assert year.ends + timedelta(days=1) == year.shift(1).starts
    assert year.days() == (366 if _is_leap(start + 1) else 365)


@given(DAYS, st.integers(min_value=0, max_value=10))
def test_adding_years_keeps_the_day_or_lands_on_28_february(day: date, years: int) -> None:
    later = add_years(day, years)
    assert later.year == day.year + years
    if (day.month, day.day) == (2, 29) and not _is_leap(later.year):
        assert (later.month, later.day) == (2, 28)
    else:
        assert (later.month, later.day) == (day.month, day.day)
    assert financial_year(later) == financial_year(day).shift(years)


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def test_money_is_pence_without_floats() -> None:
    assert parse_pounds("£1,234.56") == 123456
    assert parse_pounds("8.2m") == 820_000_000
    assert parse_pounds("0.830m") == 83_000_000
    assert parse_pounds("450k") == 45_000_000
    assert parse_pounds("0.1") + parse_pounds("0.2") == parse_pounds("0.3")
    for bad in ("1.234", "abc", "£", "1e400", "NaN"):
        with pytest.raises(ValueError):
            parse_pounds(bad)
    assert format_pounds(123456) == "£1,234.56"
    assert format_pounds(-5) == "-£0.05"
    assert format_millions(820_000_000) == "£8.200m"
    assert format_millions(-83_000_000) == "-£0.830m"


@given(st.integers(min_value=-10**14, max_value=10**14))
def test_formatted_pounds_parse_back(pence: int) -> None:
    assert parse_pounds(format_pounds(pence).replace("-£", "-")) == pence
