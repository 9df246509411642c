from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from mobilise.core.db import session_scope
from mobilise.core.settings import Settings
from mobilise.demo.migration import (
    DEMO_PEOPLE,
    DEMO_WAVE,
    READY_PEOPLE,
    READY_WAVE,
    migrate_demo_wave,
)
from mobilise.demo.run import load_people
from mobilise.migration.models import MigrationWave, PersonMigration
from tests.migration.conftest import tree_snapshot


def test_demo_wave_reaches_cutover_in_the_emulator_and_is_idempotent(
        sqlite_settings: Settings, tmp_path: Path) -> None:
    out = tmp_path / "demo"
    out.mkdir()
    load_people(sqlite_settings, out, 30, 5)
    note = migrate_demo_wave(sqlite_settings, out, 30, 5)
    assert f"{DEMO_PEOPLE} of {DEMO_PEOPLE} people migrated" in note
    with session_scope(sqlite_settings) as s:
        wave = s.scalar(select(MigrationWave).where(MigrationWave.name == DEMO_WAVE))
        assert wave is not None
        states = s.scalars(select(PersonMigration.state).where(
            PersonMigration.wave_id == wave.id)).all()
        assert list(states) == ["migrated"] * DEMO_PEOPLE
        assert [r.status for r in wave.rounds] == ["done", "done", "done"]
        # The second wave waits for the operator, its people's drives ready to copy.
        ready = s.scalar(select(MigrationWave).where(MigrationWave.name == READY_WAVE))
        assert ready is not None and len(ready.people) == READY_PEOPLE
        assert [r.status for r in ready.rounds] == ["planned"] * 3
        assert f"wave {READY_WAVE!r} ({READY_PEOPLE} people) is planned" in note
    homes = tree_snapshot(out / "home")
    assert "exists already" in migrate_demo_wave(sqlite_settings, out, 30, 5)
    assert tree_snapshot(out / "home") == homes
