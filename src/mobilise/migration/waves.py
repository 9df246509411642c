"""Creating waves: a set of people and a schedule of rounds (pre-seed, deltas, cutover)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from mobilise.core import audit
from mobilise.core.actor import Actor
from mobilise.core.clock import Clock, SystemClock
from mobilise.core.db import serialise_on
from mobilise.core.errors import Conflict, InvalidInput, NotFound
from mobilise.migration.models import MigrationRound, MigrationWave, PersonMigration, RoundKind
from mobilise.people.models import OrgUnit, Person, PersonStatus, Site


@dataclass(frozen=True)
class WaveSelection:
    """Who is in a wave: the union of the org units, sites and people named, narrowed by
    drive size when sizes are known (from the drive scans)."""

    org_units: Sequence[str] = ()
    sites: Sequence[str] = ()
    people: Sequence[str] = ()  # numbers or UPNs
    min_bytes: int | None = None
    max_bytes: int | None = None
    drive_sizes: Mapping[str, int] = field(default_factory=dict)  # person number → bytes

    def as_json(self) -> dict[str, object]:
        return {"org_units": list(self.org_units), "sites": list(self.sites),
                "people": list(self.people), "min_bytes": self.min_bytes,
                "max_bytes": self.max_bytes}


def parse_schedule(text: str) -> list[datetime | None]:
    """Round dates in order, comma-separated ISO dates or date-times (``2026-03-02,,
    2026-03-16``); an empty place is a round not yet scheduled. The CLI's ``--schedule``
    and the waves page's form read dates the same way."""
    if not text.strip():
        return []
    out: list[datetime | None] = []
    for part in text.split(","):
        try:
            out.append(datetime.fromisoformat(part.strip()) if part.strip() else None)
        except ValueError:
            raise InvalidInput(f"{part.strip()!r}: not an ISO date or date-time") from None
    return out


def split_keys(text: str) -> list[str]:
    """People's numbers or UPNs typed one a line, or separated by commas or spaces."""
    return [k for k in text.replace(",", " ").split() if k]


def org_unit_codes(session: Session) -> list[tuple[str, str]]:
    """Every org unit as (code, name), for a picker."""
    return [(c, n) for c, n in session.execute(select(OrgUnit.code, OrgUnit.name)
                                               .order_by(OrgUnit.code))]


def site_codes(session: Session) -> list[tuple[str, str]]:
    """Every site as (code, name), for a picker."""
    return [(c, n) for c, n in session.execute(select(Site.code, Site.name)
                                               .order_by(Site.code))]


def select_people(session: Session, selection: WaveSelection) -> list[Person]:
    chosen: dict[int, Person] = {}
    active = select(Person).where(Person.status == PersonStatus.ACTIVE.value)
    if selection.org_units:
        stmt = active.join(OrgUnit, Person.org_unit_id == OrgUnit.id).where(
            OrgUnit.code.in_(selection.org_units))
        chosen.update({p.id: p for p in session.scalars(stmt)})
    if selection.sites:
        stmt = active.join(Site, Person.site_id == Site.id).where(
            Site.code.in_(selection.sites))
        chosen.update({p.id: p for p in session.scalars(stmt)})
    if selection.people:
        keys = [k.strip() for k in selection.people]
        stmt = select(Person).where(Person.number.in_(keys) | Person.upn.in_(
            [k.lower() for k in keys]))
        found = list(session.scalars(stmt))
        missing = set(keys) - {p.number for p in found} - {p.upn for p in found}
        if missing:
            raise NotFound(f"no such people: {', '.join(sorted(missing)[:20])}")
        left = [p.number for p in found if leaver_reason(p)]
        if left:
            raise InvalidInput(f"these people have left and their drives are not migrated "
                               f"(see the leavers' and orphan drives queue): "
                               f"{', '.join(left[:20])}")
        chosen.update({p.id: p for p in found})
    people = sorted(chosen.values(), key=lambda p: p.number)
    if selection.min_bytes is not None or selection.max_bytes is not None:
        people = [p for p in people if _size_fits(selection, selection.drive_sizes.get(p.number))]
    return people


def _size_fits(selection: WaveSelection, size: int | None) -> bool:
    if size is None:
        return False  # not scanned: its size is unknown, so it cannot be placed by size
    if selection.min_bytes is not None and size < selection.min_bytes:
        return False
    return selection.max_bytes is None or size <= selection.max_bytes


def create_wave(
    session: Session,
    actor: Actor,
    name: str,
    selection: WaveSelection,
    *,
    delta_rounds: int = 1,
    schedule: Sequence[datetime | None] = (),
    description: str | None = None,
    clock: Clock | None = None,
) -> MigrationWave:
    """A wave with rounds 1 (pre-seed), 2..n+1 (deltas) and the cutover last; the
    ``schedule`` gives their dates in that order where known."""
    if not name.strip():
        raise InvalidInput("a wave needs a name")
    if delta_rounds < 0:
        raise InvalidInput("delta rounds cannot be negative")
    if session.scalar(select(MigrationWave).where(MigrationWave.name == name)) is not None:
        raise Conflict(f"a wave named {name!r} exists already")
    people = select_people(session, selection)
    if not people:
        raise InvalidInput("the selection names nobody")
    # A person is in one unfinished wave at most: their rows are locked before asking, so
    # of two waves created at once over the same people the second sees the first.
    serialise_on(session, Person.__table__, Person.id.in_([p.id for p in people]))
    taken = _already_in_a_wave(session, [p.id for p in people])
    if taken:
        raise Conflict(f"already in an unfinished wave: {', '.join(taken[:20])}")
    clock = clock or SystemClock()
    wave: MigrationWave = audit.create(session, actor, "migration_wave.create",
                        MigrationWave(name=name, description=description,
                             selection=selection.as_json(), created_at=clock.now()))
    session.flush()
    kinds = [RoundKind.PRE_SEED] + [RoundKind.DELTA] * delta_rounds + [RoundKind.CUTOVER]
    for number, kind in enumerate(kinds, start=1):
        when = schedule[number - 1] if number - 1 < len(schedule) else None
        audit.create(session, actor, "migration_round.plan",
                     MigrationRound(wave_id=wave.id, number=number, kind=kind.value,
                           scheduled_for=when))
    for person in people:
        audit.create(session, actor, "migration_person.add",
                     PersonMigration(wave_id=wave.id, person_id=person.id,
                                     drive_bytes=selection.drive_sizes.get(person.number)))
    session.flush()
    return wave


def _already_in_a_wave(session: Session, person_ids: list[int]) -> list[str]:
    stmt = (select(Person.number).join(PersonMigration, PersonMigration.person_id == Person.id)
            .where(PersonMigration.person_id.in_(person_ids),
                   PersonMigration.state != "migrated"))
    return list(session.scalars(stmt))


def get_wave(session: Session, key: str | int) -> MigrationWave:
    text = str(key).strip()
    wave = session.scalar(select(MigrationWave).where(MigrationWave.name == text))
    # An id in ASCII digits that fits the database's integer (a larger one overflows).
    if wave is None and text.isascii() and text.isdigit() and int(text) < 2**63:
        wave = session.get(MigrationWave, int(text))
    if wave is None:
        raise NotFound(f"no wave {text!r}")
    return wave


def list_waves(session: Session) -> list[MigrationWave]:
    return list(session.scalars(
        select(MigrationWave).order_by(MigrationWave.created_at, MigrationWave.id)))


def wave_people(session: Session, wave: MigrationWave) -> list[PersonMigration]:
    return list(session.scalars(
        select(PersonMigration).options(joinedload(PersonMigration.person))
        .where(PersonMigration.wave_id == wave.id).order_by(PersonMigration.id)))


def member_of(session: Session, wave: MigrationWave, key: str) -> PersonMigration:
    """The wave's person named by number or UPN."""
    text = key.strip()
    member = session.scalar(
        select(PersonMigration).join(Person, PersonMigration.person_id == Person.id)
        .where(PersonMigration.wave_id == wave.id,
               (Person.number == text) | (Person.upn == text.lower())))
    if member is None:
        raise NotFound(f"{text!r} is not in wave {wave.name!r}")
    return member


def leaver_reason(person: Person) -> str | None:
    """Why a person's drive must not be migrated, if they have left: there is no account to
    receive it but a disabled one. Their drive is in the leavers' and orphan drives queue."""
    if person.status == PersonStatus.ACTIVE.value:
        return None
    left = f" on {person.left_on.isoformat()}" if person.left_on else ""
    return (f"{person.number} left the force{left}: a leaver's drive is not migrated into a "
            "disabled account (it is in the leavers' and orphan drives queue)")
