"""The headline figures on an empty register: zeros and "not recorded", never an error or
an invented finish."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy.orm import Session

from mobilise.core.clock import FixedClock
from mobilise.core.settings import Settings
from mobilise.programme import figures

CLOCK = FixedClock(datetime(2026, 12, 7, 9, 0, tzinfo=UTC))


def test_an_empty_programme(session: Session, settings: Settings) -> None:
    got = figures.by_key(figures.headline(session, settings, CLOCK))
    assert [got[k].value for k in ("handsets_issued", "people_eligible", "people_migrated",
                                   "data_moved")] == [0, 0, 0, 0]
    assert got["files_by_retention_outcome"].value is None
    assert got["files_by_retention_outcome"].text == "no retention dry run recorded yet"
    # Nobody to serve: finished, not "1,347 days late".
    assert got["forecast_finish"].text == "finished: all 0 eligible people hold a handset"
    assert all(f.as_of == date(2026, 12, 7) for f in got.values())
    spend = got["spend"].value
    assert spend is not None and spend.approved == 0
