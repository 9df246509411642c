"""Leavers' and orphan drives: their own queue, a proposal from the rule set, a recorded
decision for each; and nothing of a leaver migrated into a disabled account."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilise.core import audit
from mobilise.core.actor import Actor, Role
from mobilise.core.errors import Conflict, InvalidInput, PermissionDenied
from mobilise.core.settings import Settings
from mobilise.migration.rounds import run_round
from mobilise.migration.waves import WaveSelection, create_wave, wave_people
from mobilise.people.models import Person
from mobilise.retention import leavers
from mobilise.retention.models import DriveCase, DriveOutcome
from mobilise.retention.rules import load_rule_set_file, parse_rule_set
from mobilise.workers import InProcessExecutor
from tests.factories import ADMIN
from tests.migration.test_rounds import estate, onedrive  # noqa: F401  (the fixture)

from .test_rules import EXAMPLE

RM = Actor("rm", frozenset({Role.RECORDS}))
DESK = Actor("desk", frozenset({Role.SERVICE_DESK}))


def leave(session: Session, number: str, on: date) -> Person:
    person = session.scalars(select(Person).where(Person.number == number)).one()
    with audit.change(session, ADMIN, "person.update", person):
        person.status, person.left_on = "leaver", on
    session.commit()
    return person


def test_the_rule_set_proposes_for_each_kind_of_drive(session: Session,
                                                      estate: Settings) -> None:  # noqa: F811
    person = leave(session, "100000", date(2024, 3, 31))
    example = load_rule_set_file(EXAMPLE)
    archived = leavers.propose(example, person)
    assert (archived.outcome, archived.rule, archived.due_on) == (
        DriveOutcome.ARCHIVE, "leavers", date(2030, 3, 31))
    assert "never migrated" in archived.why
    orphan = leavers.propose(example, None)
    assert orphan.outcome is DriveOutcome.REVIEW and "orphan" in orphan.why
    dispose = parse_rule_set(
        "rule_set: x\nversion: 1\nrules:\n  - id: gone\n    title: Leavers\n"
        "    authority: HR schedule\n    action: dispose\n    period: 2y\n    from: leaver\n"
        "    select:\n      status: leaver\n")
    disposed = leavers.propose(dispose, person)
    assert (disposed.outcome, disposed.due_on) == (DriveOutcome.DISPOSE, date(2026, 3, 31))
    assert leavers.propose(None, person).outcome is DriveOutcome.REVIEW


def test_the_queue_finds_leavers_and_orphans_and_each_ends_with_a_decision(
        session: Session, estate: Settings) -> None:  # noqa: F811
    leave(session, "100001", date(2025, 6, 30))
    (Path(estate.home_root) / "jbloggs-old").mkdir()
    estate = estate.model_copy(update={"home_template": f"{estate.home_root}/{{sam}}"})
    example = load_rule_set_file(EXAMPLE)
    first = leavers.refresh_queue(session, ADMIN, estate, example)
    session.commit()
    assert (first.added, first.open) == (2, 2)
    assert leavers.refresh_queue(session, ADMIN, estate, example).added == 0
    found = {c.kind: c for c in leavers.cases(session)}
    assert found["leaver"].home.endswith("asmith1") and found["leaver"].proposed == "archive"
    assert found["orphan"].home.endswith("jbloggs-old") and found["orphan"].proposed == "review"

    with pytest.raises(PermissionDenied):
        leavers.decide(session, DESK, found["orphan"].id, "dispose", "x")
    with pytest.raises(InvalidInput):
        leavers.decide(session, RM, found["orphan"].id, "shred", "x")
    with pytest.raises(InvalidInput):
        leavers.decide(session, RM, found["orphan"].id, "dispose", " ")
    decided = leavers.decide(session, RM, found["orphan"].id, "dispose",
                             "J Bloggs left in 2012; nothing of value (checked 7 files)")
    session.commit()
    assert (decided.outcome, decided.decided_by) == ("dispose", "rm")
    with pytest.raises(Conflict, match="decided already"):
        leavers.decide(session, RM, found["orphan"].id, "archive", "again")
    assert [c.kind for c in leavers.cases(session, open_only=True)] == ["leaver"]
    orphan = session.get(DriveCase, found["orphan"].id)
    assert orphan is not None and orphan.outcome == "dispose"


def test_a_leaver_is_never_migrated(session: Session, estate: Settings) -> None:  # noqa: F811
    wave = create_wave(session, ADMIN, "W1", WaveSelection(people=["100000", "100001"]),
                       delta_rounds=0)
    session.commit()
    leave(session, "100000", date(2026, 11, 30))  # after the wave was made
    with pytest.raises(InvalidInput, match="have left"):
        create_wave(session, ADMIN, "W2", WaveSelection(people=["100000"]))
    report = run_round(session, ADMIN, estate, wave, InProcessExecutor(estate))
    assert "100000" not in report.people and report.people["100001"]["copied"] == 25
    member = next(m for m in wave_people(session, wave) if m.person.number == "100000")
    assert member.state == "failed" and "left the force on 2026-11-30" in (member.reason or "")
    assert not any(p.is_file() for p in onedrive(estate, 0).rglob("*"))
