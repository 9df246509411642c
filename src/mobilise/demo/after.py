"""Demo step: the demo wave's H: drives after cutover. Grace (a file that arrives late
from a laptop's offline copy is swept into OneDrive and its owner told), read-only and
the drive mapping's removal through operator hooks (shell scripts in the demo's folder,
each logging the person it was run for), sign-off by a records manager, release through
a disposal batch approved by a second records manager with its certificate; the people
join the Known Folder Move group in the Graph emulator. The dates are the lifecycle's
own (grace, read-only and archive days), walked through on a demo clock."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from mobilise.core.actor import Actor, Role
from mobilise.core.clock import FixedClock, SystemClock
from mobilise.core.db import session_scope
from mobilise.core.settings import Settings
from mobilise.demo.migration import DEMO_WAVE, graph_settings
from mobilise.migration import after
from mobilise.migration.models import DriveAfterCutover, DriveState, MigrationWave
from mobilise.migration.rounds import source_spec
from mobilise.retention import disposal
from mobilise.retention.scanned import drive_of
from mobilise.workers import InProcessExecutor

ACTOR = Actor("demo", frozenset({Role.MIGRATION}))
RECORDS = (Actor("demo-records-manager", frozenset({Role.RECORDS})),
           Actor("demo-records-manager-2", frozenset({Role.RECORDS})))
HOOK = '#!/bin/sh\n# {what}: the force would call its own tooling (AD group, ACL, GPO) here.\n' \
       'echo "$(date -u +%FT%TZ) {what} $MOBILISE_PERSON ($MOBILISE_SOURCE)" >> "{log}"\n'


def write_hooks(folder: Path) -> tuple[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "hooks.log"
    made = []
    for name, what in (("read-only.sh", "read-only"), ("unmap.sh", "drive mapping removed")):
        path = folder / name
        path.write_text(HOOK.format(what=what, log=log), encoding="utf-8")
        path.chmod(0o755)
        made.append(str(path))
    return made[0], made[1]


def after_cutover_step(settings: Settings, out_dir: Path, people: int, seed: int) -> str:
    from mobilise.emulator.server import EmulatorProcess

    read_only, unmap = write_hooks(out_dir / "hooks")
    emulator = EmulatorProcess(out_dir / "emulator").start()
    try:
        with emulator.admin() as admin:
            group = admin.post("/groups", json={"displayName": "Known Folder Move"}).json()
        demo = graph_settings(settings, emulator, out_dir).model_copy(update={
            "after_read_only_hook": read_only, "after_unmap_hook": unmap,
            "kfm_group_id": group["id"]})
        return _walk(demo)
    finally:
        emulator.stop()


def _walk(settings: Settings) -> str:
    from mobilise.graph import GraphClient

    clock = FixedClock(SystemClock().now())
    with session_scope(settings) as s:
        wave = s.scalar(select(MigrationWave).where(MigrationWave.name == DEMO_WAVE))
        if wave is None:
            return "After cutover: no demo wave"
        if any(r.state != DriveState.MIGRATED.value for r in after.wave_rows(s, wave)):
            return "After cutover: the demo wave's drives are past cutover already"
        after.advance(s, ACTOR, settings, wave, clock=clock)
        rows = after.wave_rows(s, wave)
        if not rows:
            return ("After cutover: nobody in the demo wave was migrated, so no H: drive "
                    "has an after-cutover lifecycle yet (see the wave's page for why)")
        late = _late_file(settings, rows[0])
        swept = after.sweep(s, ACTOR, settings, wave, InProcessExecutor(settings, workers=4),
                            clock=clock)
        with GraphClient(settings) as client:
            kfm = after.add_to_kfm_group(s, ACTOR, settings, wave, client, clock=clock)
        for days in (settings.after_grace_days, settings.after_read_only_days):
            clock.advance(timedelta(days=days))
            after.advance(s, ACTOR, settings, wave, clock=clock)
        for row in after.wave_rows(s, wave):
            after.sign_off(s, RECORDS[0], wave, row.migration.person.number,
                           "demo: everything of record is in OneDrive", clock=clock)
        batch = after.propose_release(s, RECORDS[0], settings, wave, clock=clock)
        disposal.approve_batch(s, RECORDS[1], batch.id, clock=clock)
        disposal.execute_batch(s, RECORDS[0], batch.id, drive_of(s, settings), clock=clock)
        s.commit()
        certified = len(disposal.certificate_rows(s, batch.id))
        clock.advance(timedelta(days=settings.after_archive_days))
        released = sum(r.done for r in after.advance(s, ACTOR, settings, wave, clock=clock))
        figures = after.storage_released(s)
    return (f"After cutover: wave {DEMO_WAVE!r} through grace (sweep round "
            f"{swept.round.number} found {late} late and told its owner), read-only and "
            f"archive by hook; {sum(r.outcome != 'failed' for r in kfm)} people in the Known "
            f"Folder Move group; disposal batch {batch.id} certified {certified} files; "
            f"{released} drives released, {figures.released_text} of {figures.estate_text} "
            "scanned")


def _late_file(settings: Settings, row: DriveAfterCutover) -> str:
    """A statement saved offline on a laptop, synced to the H: drive after the cutover."""
    root = Path(str(source_spec(settings, row.migration.person)["root"]))
    late = root / "Documents" / "minutes-late-sync.docx"
    late.parent.mkdir(parents=True, exist_ok=True)
    late.write_bytes(b"A witness statement typed offline and synced after the cutover.\n")
    return "Documents/minutes-late-sync.docx"
