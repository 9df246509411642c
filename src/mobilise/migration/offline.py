"""The offline-sync gate: a laptop's offline copy of the H: drive must be synced before
its owner's drive is cut over.

The decision paper: the H: drives exist on Isilon "along with local copies on the
laptops for offline access". Work saved offline reaches the share only when the laptop
next syncs; a cutover before that copies the share without it, and the late work is lost
behind a read-only drive. So a person whose laptop (from the endpoint inventory) has not
synced since the freeze, or still has items pending, is held back from cutover with the
reason, told what to do, and cut over by a later run once the inventory shows the sync,
or now with an operator's override and its reason.

The freeze is the wave's cutover round's scheduled time: the moment people are told to
stop working on H:. Without a scheduled time, only laptops that never synced or still
have items pending hold their owner back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from mobilise.comms import outbox
from mobilise.core import audit
from mobilise.core.actor import Actor
from mobilise.core.clock import Clock, utc
from mobilise.core.errors import Conflict, InvalidInput
from mobilise.core.settings import Settings
from mobilise.core.words import when_text as when
from mobilise.endpoints.inventory import laptops_of
from mobilise.endpoints.models import Endpoint
from mobilise.migration.models import (
    MigrationState,
    MigrationWave,
    PersonMigration,
    RoundKind,
)
from mobilise.migration.waves import wave_people

SYNCED = "synced"
STALE = "not synced since the freeze"
PENDING = "items pending"
NEVER = "never synced"
NO_LAPTOP = "no laptop recorded"


@dataclass(frozen=True)
class LaptopState:
    member: PersonMigration
    endpoint: Endpoint | None
    state: str

    @property
    def holds_back(self) -> bool:
        return self.state not in (SYNCED, NO_LAPTOP) and not self.member.offline_override


def freeze_of(wave: MigrationWave) -> datetime | None:
    """When people were told to stop working on H: the cutover round's scheduled time."""
    cutover = next((r for r in wave.rounds if r.kind == RoundKind.CUTOVER.value), None)
    return utc(cutover.scheduled_for) if cutover else None


def laptop_state(endpoint: Endpoint, since: datetime | None) -> str:
    last = utc(endpoint.last_sync)
    if last is None:
        return NEVER
    if endpoint.pending_items:
        return PENDING
    if since is not None and last < since:
        return STALE
    return SYNCED


def laptop_states(session: Session, members: Sequence[PersonMigration],
                  since: datetime | None) -> list[LaptopState]:
    """One row per laptop of each member (one "no laptop" row for those without)."""
    laptops = laptops_of(session, [m.person_id for m in members])
    rows: list[LaptopState] = []
    for member in members:
        mine = laptops.get(member.person_id, [])
        if not mine:
            rows.append(LaptopState(member, None, NO_LAPTOP))
        rows += [LaptopState(member, e, laptop_state(e, since)) for e in mine]
    return rows


def wave_laptops(session: Session, wave: MigrationWave,
                 since: datetime | None = None) -> list[LaptopState]:
    """The wave's people and their laptops, against ``since`` (default: the freeze)."""
    return laptop_states(session, wave_people(session, wave), since or freeze_of(wave))


def blockers(session: Session, wave: MigrationWave,
             members: Sequence[PersonMigration]) -> dict[int, str]:
    """Members the gate holds back from this cutover, by id, with the reason in words."""
    since = freeze_of(wave)
    held: dict[int, str] = {}
    for row in laptop_states(session, members, since):
        if row.holds_back and row.endpoint is not None:
            held.setdefault(row.member.id, _reason(row, since))
    return held


def _reason(row: LaptopState, since: datetime | None) -> str:
    e = row.endpoint
    assert e is not None
    if row.state == NEVER:
        what = "has never synced its offline files"
    elif row.state == PENDING:
        what = f"has {e.pending_items:,} offline item(s) not yet synced"
    else:
        what = f"last synced its offline files {when(e.last_sync)}, before the freeze"
    after = f" after {when(since)}" if since else ""
    return (f"laptop {e.device} {what}: it must sync{after} (or an operator overrides "
            "the offline-sync check with a reason)")


def override(session: Session, actor: Actor, member: PersonMigration, reason: str) -> None:
    """Cut this person over without waiting for their laptop. One winner: of two
    overrides sent at once, one records its reason and the other is told it was done."""
    if not reason.strip():
        raise InvalidInput("an override of the offline-sync check needs a reason")
    if member.state == MigrationState.MIGRATED.value:
        raise InvalidInput(f"{member.person.number} is already migrated")
    done = session.execute(
        update(PersonMigration).where(PersonMigration.id == member.id,
                                      PersonMigration.offline_override.is_(None))
        .values(offline_override=reason.strip(), offline_override_by=actor.name)
        .execution_options(synchronize_session=False))
    if done.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        session.refresh(member)
        raise Conflict(f"the offline-sync check of {member.person.number} was already "
                       f"overridden by {member.offline_override_by}: "
                       f"{member.offline_override}")
    audit.event(session, actor, "migration_person.offline_override", "migration_person",
                str(member.id), {"person": member.person.number, "wave": member.wave.name},
                reason=reason.strip())
    session.refresh(member)


def notify(session: Session, settings: Settings, wave: MigrationWave, *,
           since: datetime | None = None, clock: Clock | None = None) -> tuple[int, int]:
    """Queue the offline-sync message to every person of the wave whose laptop would hold
    them back: once per person per wave and freeze. Returns (queued, queued before)."""
    since = since or freeze_of(wave)
    stamp = since.date().isoformat() if since else "pending"
    mine: dict[int, list[LaptopState]] = {}
    for row in wave_laptops(session, wave, since):
        if row.holds_back and row.endpoint is not None:
            mine.setdefault(row.member.id, []).append(row)
    queued = before = 0
    for rows in mine.values():
        person = rows[0].member.person
        _, new = outbox.queue(
            session, key=f"offline-sync:{wave.id}:{person.id}:{stamp}", template="offline_sync",
            recipient=person.email, person_id=person.id, settings=settings, clock=clock,
            context={"person": {"first_name": person.first_name, "last_name": person.last_name,
                                "number": person.number},
                     "wave": wave.name, "freeze": when(since) if since else None,
                     "laptops": [{"device": r.endpoint.device if r.endpoint else "",
                                  "state": r.state,
                                  "last_sync": when(r.endpoint.last_sync) if r.endpoint
                                  and r.endpoint.last_sync else "never",
                                  "pending": r.endpoint.pending_items if r.endpoint else 0}
                                 for r in rows]})
        queued += new
        before += not new
    return queued, before
