"""Demo step: a wave of demo people migrated from generated H: drives into the Graph
emulator, through pre-seed, a delta round and cutover. Small on purpose: the demo stays
quick at 2,000 people."""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilise.core.actor import Actor
from mobilise.core.db import session_scope
from mobilise.core.settings import Settings
from mobilise.drives.estate import latest_readiness
from mobilise.migration.models import MigrationWave
from mobilise.migration.rounds import cutover, run_round, source_spec
from mobilise.migration.waves import WaveSelection, create_wave
from mobilise.people.models import Person, PersonStatus
from mobilise.workers import InProcessExecutor

if TYPE_CHECKING:
    from mobilise.emulator.server import EmulatorProcess

DEMO_WAVE = "Demo wave 1"
DEMO_PEOPLE = 8
FILES_EACH = 12
ACTOR = Actor("demo")
FOLDERS = ("", "Documents", "Documents/Court files", "Pictures", "Training")


def write_home_drive(root: Path, rng: random.Random) -> None:
    for i in range(FILES_EACH):
        folder = root / rng.choice(FOLDERS)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"note-{i:02d}.txt"
        path.write_bytes(rng.randbytes(rng.choice([0, 200, 5_000, 60_000])))
        stamp = 1_450_000_000 + rng.randrange(250_000_000)
        os.utime(path, (stamp, stamp))


def _pilot_people(session: Session, settings: Settings) -> list[Person]:
    """The wave's people: like a real pilot, people whose scanned drive is ready to move
    (nothing to rename, nothing that cannot move), or who have no drive yet (the step
    writes one); never someone whose drive still needs work."""
    scanned = {r.person_key: r.ready for r, _ in
               latest_readiness(session, settings.onedrive_quota_bytes)}
    active = session.scalars(select(Person).where(Person.status == PersonStatus.ACTIVE.value)
                             .order_by(Person.number))
    return [p for p in active if scanned.get(p.number, True)][:DEMO_PEOPLE]


def _provision(root: Path, upns: list[str], quota: int) -> None:
    """OneDrives in the emulator's store, written before it starts (through its admin
    API each would cost a request: minutes for a full-size force)."""
    from mobilise.emulator.store import Store

    root.mkdir(parents=True, exist_ok=True)
    store = Store(root)
    try:
        for upn in upns:
            store.provision(upn, quota)
    finally:
        store.close()


def graph_settings(settings: Settings, emulator: EmulatorProcess, out_dir: Path) -> Settings:
    """The demo's settings with Graph (and the migration's destination) in the emulator."""
    from mobilise.emulator.server import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

    return settings.model_copy(update={
        "graph_url": emulator.graph_url, "graph_authority": emulator.authority,
        "graph_tenant_id": emulator.tenant, "graph_client_id": DEFAULT_CLIENT_ID,
        "graph_client_secret": SecretStr(DEFAULT_CLIENT_SECRET), "graph_ca_bundle": emulator.ca,
        "graph_resource_units_per_minute": 600_000, "home_root": out_dir / "home",
        "migration_destination": "onedrive", "archive_root": out_dir / "archive",
    })


def migrate_demo_wave(settings: Settings, out_dir: Path, people: int, seed: int) -> str:
    from mobilise.emulator.server import EmulatorProcess

    with session_scope(settings) as s:
        if s.scalar(select(MigrationWave).where(MigrationWave.name == DEMO_WAVE)) is not None:
            return f"Migration: wave {DEMO_WAVE!r} exists already"
        chosen = _pilot_people(s, settings)
        numbers = [p.number for p in chosen]
        # Everyone has a OneDrive in the demo's tenant, so a wave the operator makes on
        # the served pages has somewhere to copy to.
        upns = list(s.scalars(select(Person.upn).where(
            Person.status == PersonStatus.ACTIVE.value).order_by(Person.number)))
    _provision(out_dir / "emulator", upns, settings.onedrive_quota_bytes)
    emulator = EmulatorProcess(out_dir / "emulator").start()
    try:
        return _run_wave(graph_settings(settings, emulator, out_dir), numbers,
                         random.Random(seed))
    finally:
        emulator.stop()


def _run_wave(settings: Settings, numbers: list[str], rng: random.Random) -> str:
    executor = InProcessExecutor(settings, workers=4)
    with session_scope(settings) as s:
        for person in s.scalars(select(Person).where(Person.number.in_(numbers))):
            write_home_drive(Path(source_spec(settings, person)["root"]), rng)
        wave = create_wave(s, ACTOR, DEMO_WAVE, WaveSelection(people=numbers), delta_rounds=1,
                           description="demo people into the Graph emulator")
        s.commit()
        run_round(s, ACTOR, settings, wave, executor)
        run_round(s, ACTOR, settings, wave, executor)
        results = cutover(s, ACTOR, settings, wave, executor, frozen_confirmed=True)
    migrated = sum(1 for r in results if r.migrated)
    files = sum(r.verified for r in results)
    return f"Migration: wave {DEMO_WAVE!r}: {migrated} of {len(results)} people migrated " \
           f"(pre-seed, delta and cutover rounds), {files} files verified in OneDrive"
