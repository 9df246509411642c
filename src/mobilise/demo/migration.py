"""Demo step: a wave of demo people migrated from generated H: drives into the Graph
emulator, through pre-seed, a delta round and cutover; and a second wave, planned and
ready, whose first round the operator starts from its page (the served demo serves the
emulator it copies into). Small on purpose: the demo stays quick at 2,000 people."""

from __future__ import annotations

import os
import random
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilise.core.actor import Actor, Role
from mobilise.core.clock import SystemClock
from mobilise.core.db import session_scope
from mobilise.core.errors import TransitionRefused
from mobilise.core.settings import Settings
from mobilise.core.words import label
from mobilise.demo.people import on_demo_share
from mobilise.demo.retention import RECORDS_MANAGER
from mobilise.drives.estate import latest_readiness, scan_people
from mobilise.migration.decisions import plan_inputs_from_estate
from mobilise.migration.models import MigrationWave
from mobilise.migration.notices import Stage, WaveNotices, notice_counts, queue_stage
from mobilise.migration.rounds import cutover, run_round, source_spec
from mobilise.migration.waves import WaveSelection, create_wave
from mobilise.people.models import Person, PersonStatus
from mobilise.workers import InProcessExecutor

if TYPE_CHECKING:
    from mobilise.emulator.server import EmulatorProcess

DEMO_WAVE = "Demo wave 1"
DEMO_PEOPLE = 8
# The wave left for the operator: few people, so its first round takes seconds.
READY_WAVE = "Demo wave 2"
READY_PEOPLE = 4
FILES_EACH = 12
ACTOR = Actor("demo")
FOLDERS = ("", "Documents", "Documents/Court files", "Pictures", "Training")
REVIEW_DAYS_BEFORE_CUTOVER = 10  # the wave's cutover is planned this far ahead


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
    return [p for p in active if scanned.get(p.number, True)][:DEMO_PEOPLE + READY_PEOPLE]


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
        # The H: drives stay where the drives step wrote and scanned them (home_root):
        # copying from another folder would migrate drives that were never scanned, so
        # every file would wait for a retention decision it can never have.
        "graph_resource_units_per_minute": 600_000,
        "migration_destination": "onedrive", "archive_root": out_dir / "archive",
    })


def migrate_demo_wave(settings: Settings, out_dir: Path, people: int, seed: int) -> str:
    from mobilise.emulator.server import EmulatorProcess

    settings = on_demo_share(settings)
    with session_scope(settings) as s:
        if s.scalar(select(MigrationWave).where(MigrationWave.name == DEMO_WAVE)) is not None:
            return f"Migration: wave {DEMO_WAVE!r} exists already"
        chosen = [p.number for p in _pilot_people(s, settings)]
        numbers, ready = chosen[:DEMO_PEOPLE], chosen[DEMO_PEOPLE:]
        # Everyone has a OneDrive in the demo's tenant, so a wave the operator makes on
        # the served pages has somewhere to copy to.
        upns = list(s.scalars(select(Person.upn).where(
            Person.status == PersonStatus.ACTIVE.value).order_by(Person.number)))
    _provision(out_dir / "emulator", upns, settings.onedrive_quota_bytes)
    emulator = EmulatorProcess(out_dir / "emulator").start()
    try:
        demo = graph_settings(settings, emulator, out_dir)
        rng = random.Random(seed)
        return _run_wave(demo, numbers, rng) + _ready_wave(demo, ready, rng)
    finally:
        emulator.stop()


def _run_wave(settings: Settings, numbers: list[str], rng: random.Random) -> str:
    """The wave runs with the retention rules in force, as a real one would: a fresh scan
    of its people's drives (the step adds files to them), review queued with a deadline
    before the cutover, each person deciding their own files after the pre-seed, and
    every round deciding each file by the rules and those decisions."""
    executor = InProcessExecutor(settings, workers=4)
    clock = SystemClock()
    with session_scope(settings) as s:
        people = list(s.scalars(select(Person).where(Person.number.in_(numbers))))
        for person in people:
            write_home_drive(Path(source_spec(settings, person)["root"]), rng)
        scanned = scan_people(s, settings, people, clock)
        if len(scanned.scans) < len(people):
            # Never copy drives that were not scanned: their files would have no
            # retention decision and the cutover would wait on them for ever.
            raise RuntimeError(f"the demo wave's drives were not all found on the share "
                               f"({len(scanned.scans)} of {len(people)} under "
                               f"{settings.home_root}, home paths read from "
                               f"{settings.home_unc_root})")
        cutover_on = clock.now() + timedelta(days=REVIEW_DAYS_BEFORE_CUTOVER)
        wave = create_wave(s, ACTOR, DEMO_WAVE, WaveSelection(people=numbers), delta_rounds=1,
                           schedule=[None, None, cutover_on],
                           description="demo people into the Graph emulator")
        s.commit()
        # The people are told first, as an operator would (the pre-seed round would
        # otherwise do it); each stage after queues its own messages as it happens.
        queue_stage(s, ACTOR, settings, wave, Stage.ANNOUNCEMENT)
        s.commit()
        told = WaveNotices(ACTOR, settings)
        queued = _queue_review(s, settings, numbers)
        s.commit()
        decisions = plan_inputs_from_estate(settings, s, clock)
        run_round(s, ACTOR, settings, wave, executor, plan_inputs=decisions, notices=told)
        reviewed = _owners_decide(s, numbers)
        s.commit()
        run_round(s, ACTOR, settings, wave, executor, plan_inputs=decisions, notices=told)
        # Files that fell due since (review is queued as each becomes due): asked and
        # decided before the cutover, as the owners would from their reminders.
        queued += _queue_review(s, settings, numbers)
        s.commit()
        _owners_decide(s, numbers)
        s.commit()
        results = cutover(s, ACTOR, settings, wave, executor, frozen_confirmed=True,
                          plan_inputs=decisions, notices=told)
        messages = sum(notice_counts(s, wave).values())
        rules = decisions.rule_set or "no rule set"
    migrated = sum(1 for r in results if r.migrated)
    files = sum(r.verified for r in results)
    return (f"Migration: wave {DEMO_WAVE!r} under {rules}: {queued} files queued for review "
            f"and decided by their owners before cutover ({reviewed}); {migrated} of "
            f"{len(results)} people migrated (pre-seed, delta and cutover rounds), {files} "
            f"files verified in OneDrive or the archive; {messages} messages to them queued "
            "(announcement, readiness, cutover, completion)")


def _queue_review(session: Session, settings: Settings, numbers: list[str]) -> int:
    from mobilise.migration.review_load import queue_for_review
    from mobilise.retention.scanned import active_rule_set

    version = active_rule_set(session)
    if version is None:
        return 0
    today = SystemClock().now().date()
    return sum(queue_for_review(session, RECORDS_MANAGER, settings, version, today,
                                person=number) for number in numbers)


# What the demo's people decide for their own files, by the rule that sent them to review.
OWNER_DECISIONS = {"operational-information": ("keep-archive", "a record: kept in the archive"),
                   "personal-photos": ("keep-migrate", "photos from work, keep in OneDrive"),
                   "personal-media": ("dispose", "personal media, not needed")}


def _owners_decide(session: Session, numbers: list[str]) -> str:
    """Each person decides their own open items (as on "My files to review")."""
    from mobilise.retention import review

    made: dict[str, int] = {}
    for number in numbers:
        owner = Actor(number, frozenset({Role.VIEWER}))
        mine = review.list_items(session, person=number, limit=review.MAX_PAGE).items
        for rule in sorted({i.rule for i in mine}):
            decision, why = OWNER_DECISIONS.get(rule, ("keep-archive", "kept to be safe"))
            ids = [i.id for i in mine if i.rule == rule]
            try:
                review.decide(session, owner, ids, decision, why)
            except TransitionRefused:
                # A floor forbids disposing of these yet: kept in the archive instead.
                review.decide(session, owner, ids, "keep-archive", "within its floor: kept")
                decision = "keep-archive"
            made[decision] = made.get(decision, 0) + len(ids)
    return ", ".join(f"{label(d)} {n}" for d, n in sorted(made.items())) or "none to decide"


def _ready_wave(settings: Settings, numbers: list[str], rng: random.Random) -> str:
    """The second wave, planned: nothing copied yet (people without a drive get one)."""
    if not numbers:
        return ""
    with session_scope(settings) as s:
        for person in s.scalars(select(Person).where(Person.number.in_(numbers))):
            root = Path(source_spec(settings, person)["root"])
            if not root.exists():
                write_home_drive(root, rng)
        wave = create_wave(s, ACTOR, READY_WAVE, WaveSelection(people=numbers), delta_rounds=1,
                           description="planned: start its first round from this page")
        s.flush()
        where = f"/waves/{wave.id}"
    return f"; wave {READY_WAVE!r} ({len(numbers)} people) is planned: start its first " \
           f"round on its page ({where})"
