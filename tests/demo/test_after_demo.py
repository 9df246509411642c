"""The demo carries its wave through the drive lifecycle after cutover."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from mobilise.comms.models import OutboxMessage
from mobilise.core.db import session_scope
from mobilise.core.settings import Settings
from mobilise.demo.after import after_cutover_step
from mobilise.demo.migration import DEMO_PEOPLE, DEMO_WAVE, migrate_demo_wave
from mobilise.demo.retention import retention_step
from mobilise.demo.run import load_people
from mobilise.migration import after
from mobilise.migration.models import MigrationRound, MigrationWave
from mobilise.retention.models import DisposalBatch


def test_the_demo_wave_goes_through_grace_read_only_archive_and_release(
        sqlite_settings: Settings, tmp_path: Path) -> None:
    from mobilise.demo.drives import drives_step
    from mobilise.demo.run import demo_settings
    from mobilise.schema import upgrade_schema

    out = tmp_path / "demo"
    out.mkdir()
    settings = demo_settings(sqlite_settings, out)  # the demo's own: its home template
    upgrade_schema(settings)
    load_people(settings, out, 30, 5)
    drives_step(settings, out, 30, 5)
    retention_step(settings, out, 30, 5)
    migrate_demo_wave(settings, out, 30, 5)
    note = after_cutover_step(settings, out, 30, 5)
    assert f"{DEMO_PEOPLE} drives released" in note, note
    assert f"{DEMO_PEOPLE} people in the Known Folder Move group" in note
    log = (out / "hooks" / "hooks.log").read_text().splitlines()
    assert sum("read-only" in line for line in log) == DEMO_PEOPLE
    assert sum("drive mapping removed" in line for line in log) == DEMO_PEOPLE
    with session_scope(settings) as s:
        wave = s.scalar(select(MigrationWave).where(MigrationWave.name == DEMO_WAVE))
        assert wave is not None
        assert {r.state for r in after.wave_rows(s, wave)} == {"released"}
        sweep = s.scalar(select(MigrationRound).where(MigrationRound.kind == "sweep"))
        assert sweep is not None and sweep.status == "done"
        # The sweep copies the late file and nothing else: the rounds before it left the
        # sources' access times alone, so no archived file became "opened recently".
        assert sweep.summary["copied"] == 1, sweep.summary
        told = s.scalars(select(OutboxMessage).where(OutboxMessage.template == "late_files"))
        told = list(told)
        assert [m.body.count("minutes-late-sync.docx") for m in told] == [1], \
            [m.body[-600:] for m in told[:2]]
        batch = s.scalars(select(DisposalBatch)).one()
        assert batch.status == "executed" and batch.approved_by != batch.proposed_by
        assert after.storage_released(s).released_bytes == batch.deleted_bytes > 0
    homes = [p for p in (out / "home").rglob("*") if p.is_file()]
    with session_scope(settings) as s:
        wave = s.scalar(select(MigrationWave).where(MigrationWave.name == DEMO_WAVE))
        assert wave is not None
        sams = {r.migration.person.sam_account_name for r in after.wave_rows(s, wave)}
    left = sorted(str(p) for p in homes if p.parts[len((out / "home").parts)] in sams)
    assert left == [], left[:5]  # the released H: drives hold no file
    assert "past cutover already" in after_cutover_step(settings, out, 30, 5)
