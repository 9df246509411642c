from __future__ import annotations

from collections import Counter
from pathlib import Path

from sqlalchemy import select

from mobilise.comms.models import OutboxMessage
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
        # Each person was told at each stage, once: the outbox shows it.
        sent = Counter(s.scalars(select(OutboxMessage.template)))
        for template in ("wave_announcement", "cutover_notice", "completion"):
            assert sent[template] == DEMO_PEOPLE, sent
        done = s.scalars(select(OutboxMessage.body)
                         .where(OutboxMessage.template == "completion")).first()
        assert done is not None and "have moved from your H: drive to OneDrive: https://" \
            in done
        # The second wave waits for the operator, its people's drives ready to copy.
        ready = s.scalar(select(MigrationWave).where(MigrationWave.name == READY_WAVE))
        assert ready is not None and len(ready.people) == READY_PEOPLE
        assert [r.status for r in ready.rounds] == ["planned"] * 3
        assert f"wave {READY_WAVE!r} ({READY_PEOPLE} people) is planned" in note
    homes = tree_snapshot(out / "home")
    assert "exists already" in migrate_demo_wave(sqlite_settings, out, 30, 5)
    assert tree_snapshot(out / "home") == homes


def test_demo_wave_runs_with_the_retention_rules_in_force(
        sqlite_settings: Settings, tmp_path: Path) -> None:
    """The drives are scanned and the example rule set is active: review is queued with a
    deadline before the cutover, owners decide, and every round decides each file by the
    rules (no review gate skipped, no override)."""
    from mobilise.demo.drives import drives_step
    from mobilise.demo.retention import retention_step
    from mobilise.demo.run import demo_settings
    from mobilise.retention.models import ReviewItem

    out = tmp_path / "demo"
    out.mkdir()
    settings = demo_settings(sqlite_settings, out)
    from mobilise.schema import upgrade_schema

    upgrade_schema(settings)
    load_people(settings, out, 30, 5)
    drives_step(settings, out, 30, 5)
    retention_step(settings, out, 30, 5)
    note = migrate_demo_wave(settings, out, 30, 5)
    assert "under personal-files v1" in note
    assert f"{DEMO_PEOPLE} of {DEMO_PEOPLE} people migrated" in note
    with session_scope(settings) as s:
        wave = s.scalars(select(MigrationWave).where(MigrationWave.name == DEMO_WAVE)).one()
        members = s.scalars(select(PersonMigration).where(
            PersonMigration.wave_id == wave.id)).all()
        assert [m.state for m in members] == ["migrated"] * DEMO_PEOPLE
        assert all(m.review_override is None for m in members)
        cutover_day = wave.rounds[-1].scheduled_for
        items = s.scalars(select(ReviewItem)).all()
        assert items, "the wave's people had files to review"
        assert {i.status for i in items} == {"decided"}
        assert cutover_day is not None
        assert all(i.due_on is not None and i.due_on <= cutover_day.date() for i in items)
    assert list((out / "archive").rglob("*")), "stale files went to the archive"
