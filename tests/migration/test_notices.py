"""A wave's messages: each stage queued once per person, with that person's own figures
(renames old → new, what cannot move and why, retention outcomes, what moved)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilise.comms.models import MessageTemplate, OutboxMessage
from mobilise.core.actor import Actor, Role
from mobilise.core.clock import FixedClock
from mobilise.core.settings import Settings
from mobilise.drives.estate import scan_people
from mobilise.migration import notices
from mobilise.migration.decisions import plan_inputs_from_estate
from mobilise.migration.models import MigrationWave
from mobilise.migration.notices import Stage, WaveNotices, queue_stage
from mobilise.migration.rounds import cutover, run_round
from mobilise.migration.waves import WaveSelection, create_wave
from mobilise.people.models import Person
from mobilise.retention import rule_sets
from mobilise.retention.scanned import scanned_dry_run
from mobilise.workers import InProcessExecutor
from tests.factories import ADMIN, load_people

RM = Actor("records-1", frozenset({Role.RECORDS}))
CLOCK = FixedClock(datetime(2026, 11, 1, 9, 0, tzinfo=UTC))
RENAMED = "Documents/Notes: interview?.docx"
RENAMED_TO = "Documents/Notes_ interview_.docx"
BLOCKED = "tools/helper.jar"

RULES = """
rule_set: notices
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
default:
  id: everything-else
  action: migrate
"""

# Person 0: a name to rename, a blocked type, a file to dispose, one to archive.
FILES_0 = {RENAMED: b"interview", "Documents/report.docx": b"quarterly", BLOCKED: b"jar",
           "scratch/build.tmp": b"temporary", "Cases/op-nimbus.case": b"case papers"}
FILES_1 = {"Documents/plain.txt": b"plain", "Documents/other.txt": b"other text"}


def _write(home: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        path = home / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, (1_700_000_000, 1_700_000_000))


@pytest.fixture
def drives(settings: Settings, session: Session, tmp_path: Path) -> Settings:
    load_people(session, tmp_path, count=3)  # 100002 is never scanned
    _write(Path(settings.home_root) / "asmith0", FILES_0)
    _write(Path(settings.home_root) / "asmith1", FILES_1)
    (Path(settings.home_root) / "asmith2").mkdir(parents=True)
    configured = settings.model_copy(update={
        "migration_destination": "local", "migration_destination_root": tmp_path / "onedrive",
        "archive_root": tmp_path / "archive",
        "home_template": str(settings.home_root) + "/{sam}"})
    people = list(session.scalars(select(Person).where(Person.number != "100002")))
    scan_people(session, configured, people, CLOCK)
    session.commit()
    return configured


def _wave(session: Session) -> MigrationWave:
    wave = create_wave(session, ADMIN, "N1", WaveSelection(people=["100000", "100001",
                                                                   "100002"]),
                       schedule=[datetime(2026, 11, 9, 9, tzinfo=UTC), None,
                                 datetime(2026, 11, 23, 18, tzinfo=UTC)])
    session.commit()
    return wave


def _messages(session: Session, template: str) -> dict[str, OutboxMessage]:
    rows = session.scalars(select(OutboxMessage).where(OutboxMessage.template == template))
    return {m.recipient.split(".")[0]: m for m in rows}  # by first name: alex0, alex1...


def test_each_stage_is_queued_once_per_person_with_their_figures(
        drives: Settings, session: Session) -> None:
    wave = _wave(session)
    first = queue_stage(session, ADMIN, drives, wave, "announcement", clock=CLOCK)
    session.commit()
    again = queue_stage(session, ADMIN, drives, wave, Stage.ANNOUNCEMENT, clock=CLOCK)
    session.commit()
    assert (first.queued, first.already) == (3, 0)
    assert (again.queued, again.already) == (0, 3)
    sent = _messages(session, "wave_announcement")
    assert len(sent) == 3 and session.query(OutboxMessage).count() == 3
    assert "starting on 9 November 2026" in sent["alex0"].body
    assert "planned for 23 November 2026" in sent["alex0"].body
    assert f"holds {len(FILES_0)} files" in sent["alex0"].body
    assert f"holds {len(FILES_1)} files" in sent["alex1"].body
    assert "holds" not in sent["alex2"].body  # never scanned: no figures invented
    # The key names the stage, the wave and the person: the database keeps it unique.
    person = session.scalars(select(Person).where(Person.number == "100000")).one()
    assert sent["alex0"].idempotency_key == f"migration:announcement:wave:{wave.id}:" \
                                            f"person:{person.id}"


def test_readiness_names_renames_what_cannot_move_and_retention_per_person(
        drives: Settings, session: Session) -> None:
    rule_sets.add_rule_set(session, RM, RULES, clock=CLOCK)
    version = rule_sets.activate(session, RM, "notices", 1, reason="test", clock=CLOCK)
    wave = _wave(session)
    run = queue_stage(session, ADMIN, drives, wave, "readiness", clock=CLOCK)
    session.commit()
    assert run.queued == 2 and run.skipped == {"no complete drive scan yet": 1}
    body = _messages(session, "readiness_report")["alex0"].body
    assert f"{RENAMED}  ->  {RENAMED_TO}" in body
    assert f"{BLOCKED}: file type OneDrive blocks — this file type is blocked" in body
    # The retention counts are the dry run's for this person, action by action.
    dry = scanned_dry_run(session, version, CLOCK.today())
    assert dry is not None
    for number, first in (("100000", "alex0"), ("100001", "alex1")):
        expected = {r["action"]: r["files"] for r in dry.tables["by_person"]
                    if r["person"] == number}
        text = _messages(session, "readiness_report")[first].body
        for action, files in expected.items():
            assert f"  {action}: {files} files (" in text
        assert sum(text.count(f"  {a}: ") for a in ("migrate", "dispose", "archive")) \
            == len(expected)
    assert "past its retention period" in body
    plain = _messages(session, "readiness_report")["alex1"]
    assert "All your files are ready to move" in plain.body
    assert plain.subject.endswith("0 to rename, 0 will not move")


def test_long_lists_are_cut_with_a_count_of_the_rest(
        drives: Settings, session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(Path(drives.home_root) / "asmith1", {f"bad{i}?.txt": b"x" for i in range(4)})
    scan_people(session, drives, list(session.scalars(select(Person).where(
        Person.number == "100001"))), CLOCK)
    monkeypatch.setattr(notices, "LISTED", 1)
    wave = _wave(session)
    queue_stage(session, ADMIN, drives, wave, "readiness", clock=CLOCK)
    msg = _messages(session, "readiness_report")["alex1"]
    listed = [line for line in msg.body.splitlines() if line.startswith("  bad")]
    assert len(listed) == 1 and "... and 3 more, not listed here." in msg.body
    assert msg.subject.startswith("Your H: drive readiness report: 4 to rename")


def test_the_stages_of_a_wave_queue_their_messages(drives: Settings, session: Session) -> None:
    wave = _wave(session)
    hook = WaveNotices(ADMIN, drives, CLOCK)
    executor = InProcessExecutor(drives, workers=1)
    # The renames the rounds make are the ones the readiness report announced (it writes
    # the mapping they read).
    plan = plan_inputs_from_estate(drives, session, CLOCK)
    run_round(session, ADMIN, drives, wave, executor, notices=hook, clock=CLOCK,
              plan_inputs=plan)
    assert len(_messages(session, "wave_announcement")) == 3
    assert set(_messages(session, "readiness_report")) == {"alex0", "alex1"}
    run_round(session, ADMIN, drives, wave, executor, notices=hook, clock=CLOCK,
              plan_inputs=plan)  # a delta
    assert session.query(OutboxMessage).count() == 5  # a delta queues nothing new
    results = cutover(session, ADMIN, drives, wave, executor, frozen_confirmed=True,
                      people=["100000", "100001"], notices=hook, clock=CLOCK,
                      plan_inputs=plan)
    assert [r.migrated for r in results] == [True, True], results
    assert set(_messages(session, "cutover_notice")) == {"alex0", "alex1"}
    done = _messages(session, "completion")
    assert set(done) == {"alex0", "alex1"}
    assert f"{len(FILES_0)} files" in done["alex0"].body
    onedrive = Path(drives.migration_destination_root) / "alex0.smith@example.police.uk"
    assert (onedrive / RENAMED_TO).is_file()
    assert f"{RENAMED}  ->  {RENAMED_TO}" in done["alex0"].body
    assert f"{len(FILES_1)} files" in done["alex1"].body
    # Queued once: the stages again, by hand, add only the cutover notice of the one
    # person not cut over yet.
    for stage in Stage:
        run = queue_stage(session, ADMIN, drives, wave, stage, clock=CLOCK)
        assert run.queued == (stage is Stage.CUTOVER), (stage, run)
    assert run.skipped == {"not migrated (in progress)": 1}
    assert session.query(OutboxMessage).count() == 10


def test_a_changed_default_becomes_the_next_version_unless_someone_replaced_it(
        drives: Settings, session: Session) -> None:
    from mobilise.comms import templates

    templates.add_version(session, ADMIN, "completion", "old", "old body", note="default")
    templates.add_version(session, ADMIN, "cutover_notice", "mine", "my body", note="ours")
    templates.ensure_defaults(session, ADMIN)
    latest = {t.name: t for t in session.scalars(select(MessageTemplate)
                                                  .order_by(MessageTemplate.version))}
    assert latest["completion"].version == 2 and latest["completion"].note == "default"
    assert latest["cutover_notice"].body == "my body"
    assert templates.ensure_defaults(session, ADMIN) == 0


def test_a_message_that_cannot_be_queued_never_stops_a_round(
        drives: Settings, session: Session, caplog: pytest.LogCaptureFixture) -> None:
    from mobilise.comms import templates

    templates.ensure_defaults(session, ADMIN)
    templates.add_version(session, ADMIN, "wave_announcement", "Hello", "{{ nothing.here }}")
    wave = _wave(session)
    report = run_round(session, ADMIN, drives, wave, InProcessExecutor(drives, workers=1),
                       notices=WaveNotices(ADMIN, drives, CLOCK), clock=CLOCK)
    assert report.round.status == "done" and report.people["100000"]["copied"] == 5
    assert not _messages(session, "wave_announcement")
    assert "wave_announcement not queued" in caplog.text
    assert set(_messages(session, "readiness_report")) == {"alex0", "alex1"}


def test_a_notice_job_killed_half_way_and_run_again_queues_each_message_once(
        drives: Settings, session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    """The operator's run of a stage is a background job that commits as it goes: killed
    at the third person, it keeps the two messages it queued (and their audit entry); run
    again, it queues only the third, and each person has exactly one message."""
    from datetime import timedelta

    from sqlalchemy import update

    from mobilise.core.audit import AuditEntry
    from mobilise.core.db import session_factory
    from mobilise.core.errors import Conflict
    from mobilise.core.progress import Job, NullProgress
    from mobilise.migration.launch import start_notices

    wave = _wave(session)
    sessions = session_factory(drives)
    real = notices.BUILDERS[Stage.ANNOUNCEMENT]
    seen: list[int] = []

    def killed_at_the_third(s: Session, settings: Settings, member: object,
                            clock: object) -> dict[str, object]:
        seen.append(1)
        if len(seen) == 3:
            raise KeyboardInterrupt  # the process stops here: nothing after it runs
        return real(s, settings, member, clock)  # type: ignore[arg-type]

    monkeypatch.setitem(notices.BUILDERS, Stage.ANNOUNCEMENT, killed_at_the_third)
    with pytest.raises(KeyboardInterrupt):
        start_notices(sessions, ADMIN, drives, wave, "announcement", here=NullProgress(),
                      commit_every=0)
    session.expire_all()
    assert len(_messages(session, "wave_announcement")) == 2
    killed = session.scalars(select(Job).where(Job.kind == "wave-messages")).one()
    assert (killed.status, killed.message) == ("failed", "interrupted")
    # A server killed outright leaves its row "running": a start then is refused while the
    # row is fresh, and goes ahead once it is not (the process has gone).
    session.execute(update(Job).where(Job.id == killed.id).values(status="running"))
    session.commit()
    monkeypatch.setitem(notices.BUILDERS, Stage.ANNOUNCEMENT, real)
    with pytest.raises(Conflict, match="being queued already"):
        start_notices(sessions, ADMIN, drives, wave, "announcement", here=NullProgress())
    session.execute(update(Job).where(Job.id == killed.id).values(
        updated_at=killed.updated_at - timedelta(minutes=11)))
    session.commit()
    told: list[tuple[int, dict[str, object]]] = []

    class Told(NullProgress):
        def advance(self, n: int = 1, **stats: object) -> None:
            told.append((n, stats))

    again = start_notices(sessions, ADMIN, drives, wave, "announcement", here=Told(),
                          commit_every=0)
    assert again.status == "done", again.message
    assert {k: (again.stats or {})[k] for k in ("queued", "already")} == {"queued": 1,
                                                                         "already": 2}
    assert [n for n, _ in told] == [1, 1, 1]  # each person, as they are done
    assert told[-1][1] == {"queued": 1, "already": 2, "skipped": 0}
    session.expire_all()
    keys = [m.idempotency_key for m in session.scalars(select(OutboxMessage))]
    people = session.scalars(select(Person.id).where(Person.number.in_(
        ["100000", "100001", "100002"])))
    assert sorted(keys) == sorted(notices.notice_key(Stage.ANNOUNCEMENT, wave.id, p)
                                  for p in people)
    # Every message queued is in the audit log once, across both runs' commits.
    entries = session.scalars(select(AuditEntry).where(
        AuditEntry.action == "migration_wave.notify")).all()
    assert sum((e.after or {})["queued"] for e in entries) == 3
