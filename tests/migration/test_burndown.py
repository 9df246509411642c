"""The burndown of people migrated, checked by hand on a small case."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from mobilise.cli import context
from mobilise.cli.main import app
from mobilise.core import audit
from mobilise.core.clock import FixedClock
from mobilise.core.db import session_scope
from mobilise.core.settings import Settings
from mobilise.core.transitions import run_transition
from mobilise.migration.burndown import ALL, burndown, compute
from mobilise.migration.transitions import PERSON_LIFECYCLE
from mobilise.migration.waves import WaveSelection, create_wave, wave_people
from tests.factories import ADMIN, load_people

PEOPLE = {"CE": 3, "NW": 2}
PLANNED = [(date(2026, 1, 7), "CE")] * 3 + [(date(2026, 1, 14), "NW")] * 2
MIGRATED = [(date(2026, 1, 6), "CE"), (date(2026, 1, 8), "CE"), (date(2026, 1, 13), "NW")]


def test_weeks_planned_actual_and_forecast_by_hand() -> None:
    # As of Wednesday 14 January: 3 of 5 migrated; 3 in the last two weeks → 1.5 a week;
    # 2 left → 0.5 after a week (rounded up: 1), none after two.
    result = compute(PEOPLE, PLANNED, MIGRATED, date(2026, 1, 14), recent_weeks=2)
    assert result.weeks == [date(2026, 1, 5), date(2026, 1, 12), date(2026, 1, 19),
                            date(2026, 1, 26)]
    assert result.planned[ALL] == [3, 5, 5, 5]
    assert result.actual[ALL] == [2, 3, None, None]
    assert result.forecast[ALL] == [None, 2, 1, 0]
    assert result.rate[ALL] == 1.5
    assert result.finish_week() == date(2026, 1, 26)
    assert result.planned["NW"] == [0, 2, 2, 2]
    assert result.actual["CE"] == [2, 2, None, None]
    assert result.forecast["NW"] == [None, 1, 1, 0]  # 0.5 a week
    row = result.rows("CE")[1]
    assert row == {"week": "2026-01-12", "org_unit": "CE", "people": 3,
                   "planned_migrated": 3, "actual_migrated": 2, "planned_remaining": 0,
                   "actual_remaining": 1, "forecast_remaining": 1}


def test_no_rate_no_forecast_end() -> None:
    result = compute({"CE": 2}, [(date(2026, 3, 4), "CE")] * 2, [], date(2026, 3, 1))
    assert result.finish_week() is None
    assert result.forecast[ALL][-1] == 2


def test_migrations_after_as_of_are_not_counted() -> None:
    result = compute({"CE": 1}, [], [(date(2026, 2, 10), "CE")], date(2026, 2, 1))
    assert result.actual[ALL][-1] is None or result.actual[ALL] == [0]
    assert max(a or 0 for a in result.actual[ALL]) == 0


def test_from_waves_and_the_audit_log(session: Session, tmp_path: Path) -> None:
    load_people(session, tmp_path, count=4)
    cutover = datetime(2026, 1, 7, 9, tzinfo=UTC)
    wave = create_wave(session, ADMIN, "w1", WaveSelection(org_units=["CE"]),
                       delta_rounds=0, schedule=[None, cutover])
    members = wave_people(session, wave)
    assert len(members) == 4
    audit.use_clock(session, FixedClock(datetime(2026, 1, 13, 12, tzinfo=UTC)))
    run_transition(session, ADMIN, PERSON_LIFECYCLE, "start", members[:2])
    for m in members[:2]:
        with audit.change(session, ADMIN, "migration_person.freeze", m):
            m.source_frozen_at = datetime(2026, 1, 13, tzinfo=UTC)
    run_transition(session, ADMIN, PERSON_LIFECYCLE, "migrate", members[:2], verified=True)
    session.flush()
    result = burndown(session, date(2026, 1, 14), recent_weeks=1)
    assert result.people == {"CE": 4, ALL: 4}
    assert result.weeks[:2] == [date(2026, 1, 5), date(2026, 1, 12)]
    assert result.planned[ALL][:2] == [4, 4]
    assert result.actual[ALL][:2] == [0, 2]
    assert result.forecast[ALL][1:] == [2, 0]  # two a week


def _migrated_pilot(settings: Settings, tmp_path: Path, load: bool = True) -> None:
    """A wave of everyone in CE, cutover planned 7 January; one person migrated on the 13th."""
    with session_scope(settings) as s:
        if load:
            load_people(s, tmp_path, count=4)
        wave = create_wave(s, ADMIN, "Pilot", WaveSelection(org_units=["CE"]), delta_rounds=0,
                           schedule=[None, datetime(2026, 1, 7, 9, tzinfo=UTC)])
        first = wave_people(s, wave)[:1]
        audit.use_clock(s, FixedClock(datetime(2026, 1, 13, 12, tzinfo=UTC)))
        run_transition(s, ADMIN, PERSON_LIFECYCLE, "start", first)
        with audit.change(s, ADMIN, "migration_person.freeze", first[0]):
            first[0].source_frozen_at = datetime(2026, 1, 13, tzinfo=UTC)
        run_transition(s, ADMIN, PERSON_LIFECYCLE, "migrate", first, verified=True)
        s.commit()


def test_burndown_from_the_terminal(sqlite_settings: Settings, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    _migrated_pilot(sqlite_settings, tmp_path)
    monkeypatch.setenv("MOBILISE_DATABASE_URL", sqlite_settings.database_url)
    context.settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["migrate", "burndown", "--as-of", "2026-01-14",
                                          "--org-unit", "CE", "--format", "json"])
    finally:
        context.settings.cache_clear()
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(r["week"], r["planned_remaining"], r["actual_remaining"]) for r in rows[:2]] == [
        ("2026-01-05", 0, 4), ("2026-01-12", 0, 3)]
