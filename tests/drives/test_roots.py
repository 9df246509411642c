"""A person's drive is a folder strictly inside the home root (tracker #17): a roster row
already in the database with ``\\\\server\\home$\\..`` or a login of ``..`` is refused with
the reason by scan, migration and disposal alike, never followed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilise.core import audit
from mobilise.core.clock import SystemClock
from mobilise.core.settings import Settings
from mobilise.drives import estate
from mobilise.drives.models import DriveScan
from mobilise.drives.roots import DriveRootRefused, confine_drive_root
from mobilise.migration import spmt
from mobilise.migration.rounds import run_round
from mobilise.migration.waves import WaveSelection, create_wave, wave_people
from mobilise.people.models import Person
from mobilise.retention.scanned import drive_of
from mobilise.workers import InProcessExecutor
from tests.factories import ADMIN, load_people
from tests.migration.conftest import make_tree

UNC = "\\\\isilon\\home$"


def test_confine_drive_root(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "asmith").mkdir(parents=True)
    (tmp_path / "secret").mkdir()
    os.symlink(tmp_path / "secret", home / "link-out")
    os.symlink(home / "asmith", home / "link-in")
    assert confine_drive_root(str(home / "asmith"), home) == str(home / "asmith")
    assert confine_drive_root(str(home / "link-in"), home)  # a link that stays inside
    assert confine_drive_root(str(home / "not-yet"), home)
    for bad in [str(home / ".."), f"{home}/asmith/../..", str(home), f"{home}/.",
                str(home / "link-out"), str(tmp_path / "secret"), "/etc"]:
        with pytest.raises(DriveRootRefused, match="refused"):
            confine_drive_root(bad, home)
    assert confine_drive_root("\\\\ISILON\\Home$\\asmith", UNC)  # SMB ignores case
    for bad in [f"{UNC}\\..", UNC, "\\\\isilon\\other$\\asmith", f"{UNC}\\asmith\\..\\.."]:
        with pytest.raises(DriveRootRefused):
            confine_drive_root(bad, UNC)


def _climb_out(session: Session, person: Person, *, home: str | None = None,
               sam: str | None = None) -> None:
    """What a roster imported before validation could have left in the register."""
    with audit.change(session, ADMIN, "person.update", person):
        if home is not None:
            person.home_directory = home
        if sam is not None:
            person.sam_account_name = sam
    session.commit()


def test_scan_refuses_a_drive_outside_the_home_root(settings: Settings, session: Session,
                                                   tmp_path: Path) -> None:
    load_people(session, tmp_path, count=3)
    people = list(session.scalars(select(Person).order_by(Person.number)))
    root = Path(settings.home_root)
    for n in range(3):
        make_tree(root / f"asmith{n}", 5, seed=n)
    _climb_out(session, people[1], home=f"{UNC}\\..")
    settings = settings.model_copy(update={"home_unc_root": UNC,
                                           "home_template": f"{root}/{{sam}}"})
    result = estate.scan_people(session, settings, people, SystemClock())
    session.commit()
    [refused] = result.discovery.refused
    assert refused.match.person_key == people[1].number
    scans = {s.person_id: s for s in session.scalars(select(DriveScan))}
    bad = scans[people[1].id]
    assert (bad.status, bad.files) == ("failed", 0)
    assert bad.reason is not None and "not a folder inside the home root" in bad.reason
    assert [(p.number, s.files) for p, s in estate.latest_scans(session)] == [
        (people[0].number, 5), (people[2].number, 5)]


@pytest.mark.parametrize("climb", [{"home": f"{UNC}\\.."}, {"sam": ".."}])
def test_migration_refuses_a_drive_outside_the_home_root(
        settings: Settings, session: Session, tmp_path: Path, climb: dict[str, str]) -> None:
    load_people(session, tmp_path, count=3)
    for n in range(3):
        make_tree(Path(settings.home_root) / f"asmith{n}", 6, seed=n)
    people = list(session.scalars(select(Person).order_by(Person.number)))
    _climb_out(session, people[1], **climb)
    template = {} if "home" in climb else {"home_template": f"{settings.home_root}/{{sam}}"}
    settings = settings.model_copy(update={
        "migration_destination": "local", "migration_destination_root": tmp_path / "onedrive",
        "archive_root": tmp_path / "archive", **template})
    wave = create_wave(session, ADMIN, "W1", WaveSelection(org_units=["CE"]), delta_rounds=0)
    session.commit()
    report = run_round(session, ADMIN, settings, wave, InProcessExecutor(settings, workers=2))
    states = {m.person.number: (m.state, m.reason) for m in wave_people(session, wave)}
    state, reason = states[people[1].number]
    assert state == "failed" and reason is not None and "refused" in reason
    assert {n: states[p.number][0] for n, p in enumerate(people) if n != 1} == {
        0: "in_progress", 2: "in_progress"}
    assert report.people[people[0].number]["copied"] == 6
    # Nothing of anyone's reached the refused person's OneDrive.
    theirs = tmp_path / "onedrive" / people[1].upn
    assert not theirs.exists() or not any(theirs.rglob("*"))


def test_disposal_refuses_a_drive_outside_the_home_root(settings: Settings, session: Session,
                                                       tmp_path: Path) -> None:
    load_people(session, tmp_path, count=2)
    people = list(session.scalars(select(Person).order_by(Person.number)))
    (Path(settings.home_root) / "asmith0").mkdir(parents=True)
    _climb_out(session, people[1], sam="..")
    settings = settings.model_copy(update={"home_template": f"{settings.home_root}/{{sam}}"})
    drive = drive_of(session, settings)
    assert drive(people[0].number) is not None
    with pytest.raises(DriveRootRefused, match="'.' or '..' step"):
        drive(people[1].number)


def test_spmt_tasks_refuse_a_drive_outside_the_home_root(settings: Settings, session: Session,
                                                        tmp_path: Path) -> None:
    load_people(session, tmp_path, count=2)
    people = list(session.scalars(select(Person).order_by(Person.number)))
    _climb_out(session, people[0], home=f"{UNC}\\asmith0")
    _climb_out(session, people[1], home=f"{UNC}\\..")
    for configured in ({"home_unc_root": UNC}, {}):
        current = settings.model_copy(update=configured)
        assert spmt.task_source(current, people[0]) == f"{UNC}\\asmith0"
        with pytest.raises(DriveRootRefused):
            spmt.task_source(current, people[1])
