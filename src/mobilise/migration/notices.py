"""The messages a person gets as their wave moves on, queued in the outbox: the wave
announcement, their personal readiness report, the cutover notice and the completion.

Each is queued **once per person per stage of a wave**: its idempotency key
(``migration:<stage>:wave:<wave id>:person:<person id>``) is unique in the outbox, so a
second run, a retry, or two operators pressing the button at once queue nothing more (the
database refuses the second row; ``outbox.queue`` returns the first).

Each message carries the person's own figures: their drive's size and files (the
announcement); which of their files will be renamed (old → new), which cannot move and
why, and what the retention rules in force do with theirs (the readiness report); when
their H: drive becomes read-only (the cutover notice); what moved, where it is now and
what did not move and why (the completion). Lists are cut at ``LISTED`` entries, with the
count of those not listed, so one drive of 40,000 bad names is still an e-mail.

The wave's stages queue them as they happen (``rounds``: announcement and readiness when
the pre-seed round starts, the cutover notice when a person's source is frozen, the
completion when their cutover is verified); an operator can queue a stage at any time
(``mobilise waves notify``, the API, the wave page).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mobilise.comms import templates
from mobilise.comms.models import OutboxMessage
from mobilise.comms.outbox import existing_keys, queue
from mobilise.core import audit
from mobilise.core.actor import Actor
from mobilise.core.clock import Clock, SystemClock
from mobilise.core.db import serialise_on
from mobilise.core.errors import MobiliseError, NotFound
from mobilise.core.progress import Progress
from mobilise.core.settings import Settings
from mobilise.core.words import label, size_text
from mobilise.drives import estate
from mobilise.drives import reports as drive_reports
from mobilise.drives.assess import Action, FindingKind, onedrive_prefix
from mobilise.migration import reports
from mobilise.migration.files import Outcome
from mobilise.migration.models import MigrationState, MigrationWave, PersonMigration, RoundKind
from mobilise.migration.sync import remediated_path
from mobilise.migration.waves import wave_people
from mobilise.retention.outcomes import person_outcomes

log = logging.getLogger(__name__)

LISTED = 50  # entries of one list in one message; the rest are counted

# What each retention action does to a person's file, in their words.
RETENTION_MEANINGS = {
    "migrate": "moves to your OneDrive",
    "hold": "kept under a legal hold, and moves to your OneDrive",
    "archive": "moves to the records archive, not to your OneDrive",
    "review": "waits for a records manager's decision and stays on the H: drive until then",
    "dispose": "is past its retention period: it does not move, and is deleted once a "
               "disposal is approved",
}


class Stage(StrEnum):
    ANNOUNCEMENT = "announcement"
    READINESS = "readiness"
    CUTOVER = "cutover"
    COMPLETION = "completion"

    @property
    def template(self) -> str:
        return {"announcement": "wave_announcement", "readiness": "readiness_report",
                "cutover": "cutover_notice", "completion": "completion"}[self.value]


def key_prefix(stage: Stage, wave_id: int) -> str:
    return f"migration:{stage.value}:wave:{wave_id}:person:"


def notice_key(stage: Stage, wave_id: int, person_id: int) -> str:
    return f"{key_prefix(stage, wave_id)}{person_id}"


def notice_counts(session: Session, wave: MigrationWave) -> dict[str, int]:
    """How many people of the wave have had each stage's message queued."""
    return {s.value: session.scalar(
        select(func.count()).select_from(OutboxMessage)
        .where(OutboxMessage.idempotency_key.startswith(key_prefix(s, wave.id)))) or 0
        for s in Stage}


class NotDue(Exception):
    """This person gets no message of this stage now (and why)."""


@dataclass
class NoticeRun:
    wave: str
    stage: Stage
    queued: int = 0
    already: int = 0  # queued before (by an earlier run or another operator)
    skipped: Counter[str] = field(default_factory=Counter)  # why → people

    def add(self, other: NoticeRun) -> None:
        self.queued += other.queued
        self.already += other.already
        self.skipped.update(other.skipped)

    def as_dict(self) -> dict[str, Any]:
        return {"wave": self.wave, "stage": self.stage.value, "queued": self.queued,
                "already": self.already, "skipped": dict(sorted(self.skipped.items()))}

    def describe(self) -> str:
        text = f"{label(self.stage.template)}: {self.queued} queued, {self.already} " \
               "queued before"
        if self.skipped:
            text += "; not queued: " + ", ".join(f"{n} {why}" for why, n in
                                                 sorted(self.skipped.items()))
        return text


# --------------------------------------------------------------------------- figures


def _bounded(items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    return items[:LISTED], max(len(items) - LISTED, 0)


def _day(moment: datetime | None) -> str:
    return moment.strftime("%-d %B %Y") if moment else "a date to be confirmed"


def _round_day(wave: MigrationWave, kind: RoundKind) -> datetime | None:
    return next((r.scheduled_for for r in wave.rounds if r.kind == kind.value), None)


def person_context(member: PersonMigration) -> dict[str, Any]:
    p = member.person
    return {"first_name": p.first_name, "last_name": p.last_name, "number": p.number,
            "email": p.email}


def announcement_context(session: Session, settings: Settings, member: PersonMigration,
                         clock: Clock) -> dict[str, Any]:
    wave = member.wave
    pairs = estate.latest_scans(session, [member.person_id])
    scan = pairs[0][1] if pairs else None
    size = scan.bytes if scan is not None else member.drive_bytes
    return {"wave": {"name": wave.name, "starts_on": _day(_round_day(wave, RoundKind.PRE_SEED)),
                     "cutover_on": _day(_round_day(wave, RoundKind.CUTOVER))},
            "drive": {"files": scan.files if scan is not None else None,
                      "bytes": size, "size": size_text(size) if size is not None else None}}


def cannot_move_reason(findings: Sequence[str]) -> str:
    """Why an entry cannot move, in words: each finding's label and explanation."""
    return "; ".join(f"{label(kind)} — {FindingKind(kind).explanation}" for kind in findings
                     if FindingKind(kind).action is Action.CANNOT_MOVE) or "cannot move"


def readiness_context(session: Session, settings: Settings, member: PersonMigration,
                      clock: Clock) -> dict[str, Any]:
    """The person's rename map (old → new), what cannot move and why, and what the
    retention rule set in force does with their files. The mapping is written where the
    rounds read it, so the renames announced are the renames made."""
    person = member.person
    pairs = estate.latest_scans(session, [person.id])
    if not pairs:
        raise NotDue("no complete drive scan yet")
    scan = pairs[0][1]
    if not scan.inventory or not Path(scan.inventory).is_file():
        raise NotDue("the drive scan's inventory is missing (scan the drive again)")
    report = drive_reports.person_report(
        person.number, person.upn, estate.inventory_of(scan),
        quota_bytes=settings.onedrive_quota_bytes, data_dir=settings.data_dir)
    names = {r.path_text: r.proposed_name for r in report.mapping
             if r.action is Action.RENAME and r.proposed_name}
    rename, rename_more = _bounded([{"old": old, "new": remediated_path(old, names)}
                                    for old in sorted(names)])
    blocked_rows = [{"path": r.path_text, "reason": cannot_move_reason(r.findings)}
                    for r in report.mapping if r.action is Action.CANNOT_MOVE]
    blocked, blocked_more = _bounded(blocked_rows)
    outcome = person_outcomes(session, person, clock.today(), listed=0)
    retention = [{"action": r["action"], "label": label(r["action"]), "files": int(r["files"]),
                  "bytes": int(r["bytes"]), "size": size_text(int(r["bytes"])),
                  "meaning": RETENTION_MEANINGS.get(str(r["action"]), "")}
                 for r in outcome.by_action]
    return {"readiness": {
        "files_total": report.readiness.files, "size": size_text(report.readiness.bytes),
        "rename": rename, "rename_count": len(names), "rename_more": rename_more,
        "blocked": blocked, "blocked_count": len(blocked_rows), "blocked_more": blocked_more,
        "retention": retention, "retention_rule_set": outcome.rule_set,
        "retention_note": None if retention else _retention_note(outcome.note)}}


def _retention_note(note: str | None) -> str:
    if note and "no retention rule set" in note:
        return "No records retention rules apply to your files yet: they all move."
    return "What the records retention rules do with your files is not known yet."


def cutover_context(session: Session, settings: Settings, member: PersonMigration,
                    clock: Clock, when: datetime | None = None) -> dict[str, Any]:
    if member.state == MigrationState.MIGRATED.value:
        raise NotDue("migrated already")
    moment = when or _round_day(member.wave, RoundKind.CUTOVER) or clock.now()
    return {"cutover": {"day": _day(moment), "time": moment.strftime("%H:%M"),
                        "wave": member.wave.name}}


def completion_context(session: Session, settings: Settings, member: PersonMigration,
                       clock: Clock) -> dict[str, Any]:
    if member.state != MigrationState.MIGRATED.value:
        raise NotDue(f"not migrated ({label(member.state)})")
    found = reports.person_report(settings, member.person.number)
    summary = found.summary()
    renames, renames_more = _bounded([{"old": old, "new": new} for old, new in found.renamed])
    not_moved_rows = [{"path": r.path, "reason": f"{label(r.outcome)}"
                       + (f" — {r.reason}" if r.reason else "")}
                      for r in sorted(found.not_moved, key=lambda r: r.path)
                      # Files only in OneDrive were never on the H: drive to move.
                      if r.outcome != Outcome.DESTINATION_ONLY.value]
    not_moved, not_moved_more = _bounded(not_moved_rows)
    local = settings.migration_destination == "local"
    return {"completion": {
        "files_moved": summary["moved"], "bytes_moved": summary["moved_bytes"],
        "size_moved": size_text(summary["moved_bytes"]),
        "onedrive_url": None if local else
        f"https://{settings.tenant_host}/{onedrive_prefix(member.person.upn)}",
        "renames": renames, "renames_count": len(found.renamed), "renames_more": renames_more,
        "not_moved": not_moved, "not_moved_count": len(not_moved_rows),
        "not_moved_more": not_moved_more}}


Builder = Callable[[Session, Settings, PersonMigration, Clock], dict[str, Any]]
BUILDERS: dict[Stage, Builder] = {
    Stage.ANNOUNCEMENT: announcement_context, Stage.READINESS: readiness_context,
    Stage.CUTOVER: cutover_context, Stage.COMPLETION: completion_context,
}


# --------------------------------------------------------------------------- queueing


def queue_stage(session: Session, actor: Actor, settings: Settings, wave: MigrationWave,
                stage: Stage | str, *, people: Sequence[PersonMigration] | None = None,
                when: datetime | None = None, clock: Clock | None = None) -> NoticeRun:
    """Queue ``stage``'s message to every person of ``wave`` (or the ``people`` named)
    who has none yet. Who has one already is counted, not queued again; who is not due
    one (no scan for a readiness report, not migrated for a completion) is counted with
    why. One audit entry records a run that queued anything. (As the stages happen; an
    operator's run of a whole wave is ``queue_stage_job``, in the background.)"""
    stage = Stage(stage)
    clock = clock or SystemClock()
    # Runs for one wave take turns: the one that comes second reads what the first
    # queued, counts it as queued before, and renders nothing twice. (The outbox's unique
    # key alone would keep each message single, not the work.)
    serialise_on(session, MigrationWave.__table__, MigrationWave.id == wave.id)
    _ensure_templates(session, actor, clock)
    run = NoticeRun(wave.name, stage)
    done = existing_keys(session, key_prefix(stage, wave.id))
    members = list(people) if people is not None else wave_people(session, wave)
    for member in members:
        _queue_one(session, settings, wave, stage, member, run, done, clock, when)
    _audit(session, actor, wave, run)
    session.flush()
    return run


def queue_stage_job(session: Session, actor: Actor, settings: Settings, wave_id: int,
                    stage: Stage, progress: Progress, *, clock: Clock | None = None,
                    commit_every: float = 1.0, job: int | None = None) -> NoticeRun:
    """``queue_stage`` over the whole wave as long work (a readiness report computes the
    person's dry run: most of a second each): ``progress`` is told after each person,
    and what is queued is committed as it goes (every ``commit_every`` seconds, with an
    audit entry for each commit that queued anything), so work stopped half-way keeps
    what it queued and a run after it queues the rest, each message once (the outbox's
    unique key; a concurrent run's messages are counted as queued before)."""
    clock = clock or SystemClock()
    wave = session.get(MigrationWave, wave_id)
    if wave is None:
        raise NotFound(f"no wave {wave_id}")
    _ensure_templates(session, actor, clock)
    session.commit()
    run, batch = NoticeRun(wave.name, stage), NoticeRun(wave.name, stage)
    done = existing_keys(session, key_prefix(stage, wave.id))
    members = wave_people(session, wave)
    progress.start(len(members), f"wave {wave.name}: {label(stage.template)}")
    since, last = 0, time.monotonic()
    for i, member in enumerate(members, 1):
        _queue_one(session, settings, wave, stage, member, batch, done, clock)
        since += 1
        if i < len(members) and time.monotonic() - last < commit_every:
            continue
        _audit(session, actor, wave, batch, job)
        session.commit()  # before the progress row is written: SQLite has one writer
        run.add(batch)
        batch = NoticeRun(wave.name, stage)
        progress.advance(since, queued=run.queued, already=run.already,
                         skipped=sum(run.skipped.values()))
        since, last = 0, time.monotonic()
    return run


def _ensure_templates(session: Session, actor: Actor, clock: Clock) -> None:
    try:
        with session.begin_nested():
            templates.ensure_defaults(session, actor, clock)
    except IntegrityError:
        pass  # another run added the same default version at the same moment


def _queue_one(session: Session, settings: Settings, wave: MigrationWave, stage: Stage,
               member: PersonMigration, run: NoticeRun, done: set[str], clock: Clock,
               when: datetime | None = None) -> None:
    """Queue one person's message of ``stage`` unless it is in ``done`` (queued before) or
    they are not due one; ``run`` counts which."""
    key = notice_key(stage, wave.id, member.person_id)
    if key in done:
        run.already += 1
        return
    if not member.person.email:
        run.skipped["without an e-mail address"] += 1
        return
    try:
        context = (cutover_context(session, settings, member, clock, when)
                   if stage is Stage.CUTOVER
                   else BUILDERS[stage](session, settings, member, clock))
    except NotDue as why:
        run.skipped[str(why)] += 1
        return
    _, new = queue(session, key=key, template=stage.template, recipient=member.person.email,
                   context={"person": person_context(member), **context},
                   settings=settings, person_id=member.person_id, clock=clock)
    run.queued += int(new)
    run.already += int(not new)


def _audit(session: Session, actor: Actor, wave: MigrationWave, run: NoticeRun,
           job: int | None = None) -> None:
    if run.queued:
        audit.event(session, actor, "migration_wave.notify", "migration_wave", str(wave.id),
                    {**run.as_dict(), **({"job": job} if job is not None else {})})


def notify_stage(session: Session, actor: Actor, settings: Settings, wave: MigrationWave,
                 stage: Stage, people: Sequence[PersonMigration],
                 when: datetime | None = None, clock: Clock | None = None) -> NoticeRun | None:
    """A stage's messages, queued as the stage happens and committed: a message that
    cannot be queued (a template version that does not render) is logged and left for an
    operator to queue, never a reason to stop moving anyone's files."""
    try:
        with session.begin_nested():
            run = queue_stage(session, actor, settings, wave, stage, people=people, when=when,
                              clock=clock)
    except MobiliseError as err:
        log.warning("wave %s: %s not queued: %s", wave.name, stage.template, err.message)
        return None
    except Exception:  # noqa: BLE001 - a message is never worth stopping a migration for
        log.exception("wave %s: %s not queued", wave.name, stage.template)
        return None
    session.commit()
    return run


class WaveNotices:
    """What ``rounds`` calls as a wave's stages happen (its ``StageNotices``): queue that
    stage's messages for the people concerned."""

    def __init__(self, actor: Actor, settings: Settings, clock: Clock | None = None) -> None:
        self.actor, self.settings, self.clock = actor, settings, clock

    def __call__(self, session: Session, wave: MigrationWave, stage: str,
                 members: Sequence[PersonMigration], when: datetime | None = None) -> None:
        notify_stage(session, self.actor, self.settings, wave, Stage(stage), members,
                     when=when, clock=self.clock)
