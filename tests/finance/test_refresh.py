"""The refresh forecast: handsets fall due in the financial year holding the end of their
service life, and are costed against the refresh envelopes."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from mobilise.core.errors import ImportRejected
from mobilise.finance.refresh import (
    due_on,
    forecast_refresh,
    import_purchases,
    refresh_envelopes,
)
from mobilise.finance.sources import FinanceSources, PurchaseBatch
from tests.factories import ADMIN, write_csv


def batch(day: date, count: int = 100, price: int = 23_200) -> PurchaseBatch:
    return PurchaseBatch(f"B-{day}", day, count, price)


def test_due_year_at_the_boundaries() -> None:
    assert due_on(batch(date(2022, 3, 31)), 3).label == "2024/25"  # due 31 March 2025
    assert due_on(batch(date(2022, 4, 1)), 3).label == "2025/26"  # due 1 April 2025
    assert due_on(batch(date(2024, 2, 29)), 3).label == "2026/27"  # due 28 February 2027
    assert due_on(batch(date(2024, 2, 29)), 4).label == "2027/28"  # due 29 February 2028


def test_forecast_against_envelopes() -> None:
    batches = [batch(date(2021, 6, 15), 10_000), batch(date(2022, 12, 9), 28_000),
               batch(date(2023, 4, 14), 1_737)]
    years = forecast_refresh(batches, 3, {2024: 300_000_000, 2025: 900_000_000})
    rows = [(y.year.label, y.handsets_due, y.cost_pence, y.envelope_pence, y.headroom_pence)
            for y in years]
    assert rows == [
        ("2024/25", 10_000, 232_000_000, 300_000_000, 68_000_000),
        ("2025/26", 28_000, 649_600_000, 900_000_000, 250_400_000),
        ("2026/27", 1_737, 40_298_400, 0, -40_298_400),
    ]
    dearer = forecast_refresh(batches, 3, {}, unit_cost_pence=30_000)
    assert dearer[0].cost_pence == 10_000 * 30_000
    longer = forecast_refresh(batches, 4, {2024: 1})
    assert [(y.year.label, y.handsets_due) for y in longer] == [
        ("2024/25", 0), ("2025/26", 10_000), ("2026/27", 28_000), ("2027/28", 1_737)]
    with pytest.raises(ValueError):
        forecast_refresh(batches, 0, {})


@given(st.lists(st.tuples(st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 1, 1)),
                          st.integers(1, 50_000), st.integers(1, 200_000)), max_size=30),
       st.integers(1, 8))
def test_every_handset_is_due_once_and_costed_once(
        raw: list[tuple[date, int, int]], life: int) -> None:
    batches = [PurchaseBatch(str(n), d, c, p) for n, (d, c, p) in enumerate(raw)]
    years = forecast_refresh(batches, life, {})
    assert sum(y.handsets_due for y in years) == sum(b.handsets for b in batches)
    assert sum(y.cost_pence for y in years) == sum(b.handsets * b.unit_cost_pence
                                                   for b in batches)
    assert [y.year for y in years] == sorted({y.year for y in years})


def test_purchase_batches_import_and_feed_the_default_source(
        papers: Session, tmp_path: Path) -> None:
    header = ["reference", "purchased_on", "handsets", "unit_cost"]
    bad = write_csv(tmp_path / "p.csv", header, [["T1", "2022-12-09", "9,000", "232.00"],
                                                 ["T2", "2023-01-20", "-5", "232.00"]])
    with pytest.raises(ImportRejected) as caught:
        import_purchases(papers, ADMIN, bad)
    assert [(p.line, p.column) for p in caught.value.problems] == [(3, 3)]
    papers.rollback()
    assert not FinanceSources().handset_purchases(papers).available
    good = write_csv(tmp_path / "p.csv", header, [["T1", "2022-12-09", "9,000", "232.00"],
                                                  ["T2", "2023-01-20", "500", "240"]])
    assert import_purchases(papers, ADMIN, good) == 2
    reading = FinanceSources().handset_purchases(papers)
    assert reading.value is not None and [b.handsets for b in reading.value] == [9_000, 500]
    assert refresh_envelopes(papers) == {2024: 300_000_000, 2025: 900_000_000}
