"""Retention decides what a migration moves: an active rule set's per-file actions reach
the sync (local → local), and cutover honours pending reviews."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from mobilise.core.actor import Actor, Role
from mobilise.core.clock import FixedClock
from mobilise.core.settings import Settings
from mobilise.drives.estate import scan_people
from mobilise.migration.decisions import plan_inputs_from_estate
from mobilise.migration.journal import journal_path, read_journal
from mobilise.migration.rounds import cutover, run_round
from mobilise.migration.waves import WaveSelection, create_wave, wave_people
from mobilise.people.models import Person
from mobilise.retention import holds, review, rule_sets
from mobilise.retention.models import ReviewItem
from mobilise.retention.scanned import scanned_estate
from mobilise.workers import InProcessExecutor
from tests.factories import ADMIN, load_people
from tests.migration.conftest import tree_snapshot

RM = Actor("records-1", frozenset({Role.RECORDS}))
CLOCK = FixedClock(datetime(2026, 11, 1, 9, 0, tzinfo=UTC))

RULES = """
rule_set: wiring
version: 1
rules:
  - id: tmp-files
    title: Temporary files
    authority: test
    action: dispose
    period: 0d
    select:
      extension: [tmp]
  - id: old-cases
    title: Old case papers go to the archive
    authority: test
    action: archive
    period: 0d
    select:
      extension: [case]
  - id: media
    title: Music to review
    authority: test
    action: review
    period: 0d
    select:
      extension: [mp3]
default:
  id: everything-else
  action: migrate
"""

FILES = {"Documents/report.docx": b"quarterly", "Documents/notes.txt": b"notes",
         "scratch/build.tmp": b"temporary", "Cases/op-nimbus.case": b"case papers",
         "Music/song.mp3": b"la la la"}


@pytest.fixture
def drives(settings: Settings, session: Session, tmp_path: Path) -> Settings:
    load_people(session, tmp_path, count=1)
    home = Path(settings.home_root) / "asmith0"
    for rel, data in FILES.items():
        path = home / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, (1_700_000_000, 1_700_000_000))
    configured = settings.model_copy(update={
        "migration_destination": "local", "migration_destination_root": tmp_path / "onedrive",
        "archive_root": tmp_path / "archive",
        "home_template": str(settings.home_root) + "/{sam}"})
    scan_people(session, configured, list(session.query(Person)), CLOCK)
    session.commit()
    return configured


def _activate(session: Session) -> None:
    rule_sets.add_rule_set(session, RM, RULES, clock=CLOCK)
    rule_sets.activate(session, RM, "wiring", 1, reason="test", clock=CLOCK)
    session.commit()


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} \
        if root.exists() else set()


def test_without_a_rule_set_everything_migrates_and_the_report_says_so(
        drives: Settings, session: Session) -> None:
    decisions = plan_inputs_from_estate(drives, session, CLOCK)
    assert decisions.rule_set is None
    assert "every file migrates" in decisions.describe()
    wave = create_wave(session, ADMIN, "W1", WaveSelection(people=["100000"]))
    session.commit()
    report = run_round(session, ADMIN, drives, wave, InProcessExecutor(drives, workers=1),
                       plan_inputs=decisions)
    assert report.people["100000"]["copied"] == len(FILES)
    onedrive = Path(drives.migration_destination_root) / "alex0.smith@example.police.uk"
    assert _files(onedrive) == set(FILES)


def test_active_rule_set_routes_each_file_and_review_blocks_cutover(
        drives: Settings, session: Session) -> None:
    home = Path(drives.home_root) / "asmith0"
    before = tree_snapshot(home)
    _activate(session)
    decisions = plan_inputs_from_estate(drives, session, CLOCK)
    assert decisions.rule_set == "wiring v1"
    person = session.query(Person).one()
    dispositions, _ = decisions(person)
    assert dispositions == {
        "Documents/report.docx": "migrate:everything-else",
        "Documents/notes.txt": "migrate:everything-else",
        "scratch/build.tmp": "dispose:tmp-files", "Cases/op-nimbus.case": "archive:old-cases",
        "Music/song.mp3": "review:media"}

    wave = create_wave(session, ADMIN, "W1", WaveSelection(people=["100000"]))
    session.commit()
    executor = InProcessExecutor(drives, workers=1)
    report = run_round(session, ADMIN, drives, wave, executor, plan_inputs=decisions)
    totals = report.people["100000"]
    assert (totals["copied"], totals["waiting"], totals["not_moved"]) == (3, 1, 1)
    onedrive = Path(drives.migration_destination_root) / "alex0.smith@example.police.uk"
    assert _files(onedrive) == {"Documents/report.docx", "Documents/notes.txt"}
    assert _files(Path(drives.archive_root) / "asmith0") == {"Cases/op-nimbus.case"}
    records = read_journal(journal_path(drives.data_dir, "100000", wave.rounds[0].journal_name))
    reasons = {r.path: (r.outcome, r.reason) for r in records}
    assert reasons["scratch/build.tmp"] == ("not_moved", "awaiting disposal under rule tmp-files")
    assert reasons["Music/song.mp3"] == ("waiting", "retention review pending under rule media")

    # The file awaiting review blocks cutover...
    outcome = cutover(session, ADMIN, drives, wave, executor, frozen_confirmed=True,
                      plan_inputs=decisions)[0]
    assert not outcome.migrated and outcome.reason is not None
    assert "await retention review" in outcome.reason
    assert wave_people(session, wave)[0].state == "failed"
    # ...until someone decides it (keep, migrate): then it moves and cutover succeeds.
    scanned = scanned_estate(session)
    assert scanned is not None
    version = rule_sets.get_version(session, "wiring")
    assert review.queue_reviews(session, RM, version, scanned.estate, CLOCK.now().date()) == 1
    item = session.query(ReviewItem).filter_by(path="Music/song.mp3").one()
    review.decide(session, RM, [item.id], "keep-migrate", "my own music, keep it")
    session.commit()
    again = cutover(session, ADMIN, drives, wave, executor, frozen_confirmed=True,
                    plan_inputs=plan_inputs_from_estate(drives, session, CLOCK))[0]
    assert again.migrated, again.reason
    assert "Music/song.mp3" in _files(onedrive)
    assert "scratch/build.tmp" not in _files(onedrive)
    assert tree_snapshot(home) == before


def test_a_review_override_lets_cutover_leave_reviewed_files_behind(
        drives: Settings, session: Session) -> None:
    _activate(session)
    wave = create_wave(session, ADMIN, "W1", WaveSelection(people=["100000"]))
    session.commit()
    executor = InProcessExecutor(drives, workers=1)
    outcome = cutover(session, ADMIN, drives, wave, executor, frozen_confirmed=True,
                      review_override="music decided after migration",
                      plan_inputs=plan_inputs_from_estate(drives, session, CLOCK))[0]
    assert outcome.migrated, outcome.reason


def test_a_hold_keeps_a_disposable_file_so_it_migrates(
        drives: Settings, session: Session) -> None:
    _activate(session)
    holds.place_hold(session, RM, "FOI-1", "foi", "request received", people=["100000"])
    session.commit()
    dispositions, _ = plan_inputs_from_estate(drives, session, CLOCK)(
        session.query(Person).one())
    assert dispositions is not None
    assert dispositions["scratch/build.tmp"] == "migrate:tmp-files"
