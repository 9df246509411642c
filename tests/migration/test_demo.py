from __future__ import annotations

from collections import Counter
from pathlib import Path

from sqlalchemy import select

from mobilise.comms.models import OutboxMessage
from mobilise.core.db import session_scope
from mobilise.core.settings import Settings
from mobilise.demo.migration import DEMO_PEOPLE, DEMO_WAVE, migrate_demo_wave
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
        states = s.scalars(select(PersonMigration.state)).all()
        assert list(states) == ["migrated"] * DEMO_PEOPLE
        assert [r.status for r in wave.rounds] == ["done", "done", "done"]
        # Each person was told at each stage, once: the outbox shows it.
        sent = Counter(s.scalars(select(OutboxMessage.template)))
        for template in ("wave_announcement", "cutover_notice", "completion"):
            assert sent[template] == DEMO_PEOPLE, sent
        done = s.scalars(select(OutboxMessage.body)
                         .where(OutboxMessage.template == "completion")).first()
        assert done is not None and "have moved from your H: drive to OneDrive: https://" \
            in done
    homes = tree_snapshot(out / "home")
    assert "exists already" in migrate_demo_wave(sqlite_settings, out, 30, 5)
    assert tree_snapshot(out / "home") == homes
