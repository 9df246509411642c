"""My H: drive: my wave's dates, and after migration where my files are."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilise.core import audit
from mobilise.core.settings import Settings
from mobilise.migration import self_service
from mobilise.migration.journal import Journal, Record, journal_path
from mobilise.migration.models import PersonMigration
from mobilise.migration.waves import WaveSelection, create_wave
from mobilise.people.models import Person
from tests.factories import ADMIN, load_people


def test_my_wave_and_where_my_files_went(session: Session, settings: Settings,
                                         tmp_path: Path) -> None:
    load_people(session, tmp_path, count=3)
    me = session.scalars(select(Person).where(Person.number == "100001")).one()
    other = session.scalars(select(Person).where(Person.number == "100002")).one()
    assert self_service.my_waves(session, me) == []
    cutover = datetime(2026, 12, 14, 9, tzinfo=UTC)
    create_wave(session, ADMIN, "W1", WaveSelection(people=["100001"]),
                schedule=[None, None, cutover])
    waves = self_service.my_waves(session, me)
    assert [w["wave"] for w in waves] == ["W1"] and self_service.my_waves(session, other) == []
    assert [r["kind"] for r in waves[0]["rounds"]] == ["pre_seed", "delta", "cutover"]
    assert waves[0]["rounds"][-1]["scheduled_for"].replace(tzinfo=None) == \
        cutover.replace(tzinfo=None)  # SQLite keeps no zone
    assert self_service.where_my_files_are(session, settings, me) is None  # not yet moved
    member = session.scalars(select(PersonMigration)).one()
    with audit.change(session, ADMIN, "migration_person.migrated", member):
        member.state = "migrated"
    with Journal(journal_path(settings.data_dir, "100001", "round-1")) as j:
        j.append(Record(path="Docs/a?.txt", outcome="copied", dest="Docs/a_.txt", size=3))
        j.append(Record(path="Docs/b.txt", outcome="copied", dest="Docs/b.txt", size=3))
        j.append(Record(path="x.lnk", outcome="not_moved", reason="a shortcut"))
    moved = self_service.where_my_files_are(session, settings, me)
    assert moved is not None and me.upn in moved["destination"]
    assert moved["renamed"] == [{"old": "Docs/a?.txt", "new": "Docs/a_.txt"}]
    assert moved["not_moved"] == [{"path": "x.lnk", "reason": "a shortcut"}]
    assert moved["summary"]["moved"] == 2
