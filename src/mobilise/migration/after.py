"""The H: drive after cutover, as a lifecycle per person:
``migrated → grace → read_only → archived → released``.

Each step is a transition of ``AFTER_LIFECYCLE`` (audited, one winner) with the date the
next one is due (settings ``after_grace_days``, ``after_read_only_days``,
``after_archive_days``). During grace, sweep rounds (a delta round over the migrated
people's drives, through the same sync as every round) pick up files that arrived late —
a laptop's offline copy synced after the freeze — and tell the person (an outbox
message). ``read_only`` and ``archived`` (the drive mapping removed) are done by the
force's own tooling through operator hooks, as the freeze is: a hook that fails leaves
the step undone, its error recorded, to be tried again. ``released`` needs the data
owner's or a records manager's sign-off and an executed disposal batch (approved by a
second records manager, with its certificate) that deleted every file of the drive:
the space is never freed by a bare delete.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from mobilise.comms import outbox, templates
from mobilise.core import audit
from mobilise.core.actor import Actor, Role
from mobilise.core.clock import Clock, SystemClock, utc
from mobilise.core.db import serialise_on
from mobilise.core.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    TransitionRefused,
)
from mobilise.core.output import to_csv
from mobilise.core.progress import Progress
from mobilise.core.settings import Settings
from mobilise.core.transitions import Context, Lifecycle, Transition, lock, run_transition
from mobilise.core.words import size_text
from mobilise.drives.models import DriveScan, ScanStatus
from mobilise.drives.roots import DriveRootRefused
from mobilise.graph import GraphClient, GraphError
from mobilise.graph import groups as graph_groups
from mobilise.migration.freeze import hook_environment, run_hook
from mobilise.migration.journal import journal_path, read_journal
from mobilise.migration.models import (
    DriveAfterCutover,
    DriveState,
    MigrationRound,
    MigrationState,
    MigrationWave,
    PersonMigration,
    RoundKind,
    RoundStatus,
)
from mobilise.migration.rounds import (
    PlanInputs,
    _finish_round,
    _start_round,
    source_spec,
    sync_people,
)
from mobilise.migration.sync import walk
from mobilise.migration.tasks import backend_from_spec
from mobilise.retention import disposal
from mobilise.retention.models import BatchStatus, DisposalBatch, DisposalItem, ItemOutcome
from mobilise.retention.scanned import active_rule_set, drive_of
from mobilise.storage.base import EntryKind
from mobilise.workers.executors import Executor

RELEASE_RULE = "drive-released"  # the rule named on a released drive's disposal items
# Binary terabytes, as the drives register and "data moved" report sizes.
TB = 1024**4

# The step out of each state, and the hook setting that does it (None: no hook).
NEXT_STEP: dict[str, str] = {
    DriveState.MIGRATED.value: "grace", DriveState.GRACE.value: "read_only",
    DriveState.READ_ONLY.value: "archive", DriveState.ARCHIVED.value: "release",
}
HOOKS: dict[str, tuple[str, str]] = {
    "read_only": ("after_read_only_hook", "read-only hook"),
    "archive": ("after_unmap_hook", "drive-mapping removal hook"),
}


# --------------------------------------------------------------------------- lifecycle


def _cutover_complete(ctx: Context, row: DriveAfterCutover) -> str | None:
    if row.migration.state != MigrationState.MIGRATED.value:
        return "the person's cutover is not complete"
    return None


def _due(ctx: Context, row: DriveAfterCutover) -> str | None:
    now: datetime = ctx.params["now"]
    if row.due_at is not None and utc(row.due_at) > now and not (ctx.reason or "").strip():
        return (f"not due until {utc(row.due_at):%Y-%m-%d}; give a reason to do it "
                "earlier")
    return None


def _hook_done(ctx: Context, row: DriveAfterCutover) -> str | None:
    return None if ctx.params.get("hook_done") else "its hook has not succeeded"


def _signed_off(ctx: Context, row: DriveAfterCutover) -> str | None:
    if row.signed_off_by is None:
        return "the data owner or a records manager has not signed the release off"
    return None


def _freed(ctx: Context, row: DriveAfterCutover) -> str | None:
    if row.disposal_batch_id is None:
        return "no disposal batch covers this drive"
    batch = ctx.session.get(DisposalBatch, row.disposal_batch_id)
    if batch is None or batch.status != BatchStatus.EXECUTED.value:
        status = batch.status if batch else "missing"
        return (f"disposal batch {row.disposal_batch_id} is {status}: it must be approved "
                "and executed first")
    left = [i for i in batch.items if i.person == row.migration.person.number
            and i.outcome != ItemOutcome.DELETED.value]
    if left:
        return (f"{len(left)} file(s) of the drive were not deleted by batch {batch.id} "
                f"({left[0].skip_reason or left[0].outcome})")
    return None


def _entered(days_setting: str | None) -> Any:
    def effect(ctx: Context, row: DriveAfterCutover) -> None:
        now: datetime = ctx.params["now"]
        settings: Settings = ctx.params["settings"]
        row.entered_at = now
        row.due_at = (now + timedelta(days=getattr(settings, days_setting))
                      if days_setting else None)
        row.hook_error = None
        row.hook_attempts = 0
        if "released_bytes" in ctx.params:
            row.released_bytes = ctx.params["released_bytes"]
    return effect


AFTER_LIFECYCLE: Lifecycle[DriveAfterCutover] = Lifecycle(
    entity="migration_drive_after",
    state_attr="state",
    transitions=[
        Transition("grace", frozenset({DriveState.MIGRATED.value}), DriveState.GRACE.value,
                   guards=(_cutover_complete,), effects=(_entered("after_grace_days"),),
                   label="Start grace"),
        Transition("read_only", frozenset({DriveState.GRACE.value}),
                   DriveState.READ_ONLY.value, guards=(_due, _hook_done),
                   effects=(_entered("after_read_only_days"),), label="Make read-only"),
        Transition("archive", frozenset({DriveState.READ_ONLY.value}),
                   DriveState.ARCHIVED.value, guards=(_due, _hook_done),
                   effects=(_entered("after_archive_days"),),
                   label="Remove mapping and archive"),
        Transition("release", frozenset({DriveState.ARCHIVED.value}),
                   DriveState.RELEASED.value, guards=(_due, _signed_off, _freed),
                   effects=(_entered(None),), label="Release"),
    ],
)


# --------------------------------------------------------------------------- rows


def ensure_rows(session: Session, actor: Actor, wave: MigrationWave) -> list[DriveAfterCutover]:
    """Every migrated person of the wave has a lifecycle row (``migrated``); returns all
    of the wave's rows, in the wave's order. Concurrent callers run one after the other
    (the wave's row is locked first), so a row is made once."""
    serialise_on(session, MigrationWave.__table__, MigrationWave.id == wave.id)
    members = session.scalars(select(PersonMigration).where(
        PersonMigration.wave_id == wave.id,
        PersonMigration.state == MigrationState.MIGRATED.value)).all()
    have = set(session.scalars(select(DriveAfterCutover.migration_id).where(
        DriveAfterCutover.migration_id.in_([m.id for m in members]))))
    for member in members:
        if member.id not in have:
            audit.create(session, actor, "migration_drive_after.create",
                         DriveAfterCutover(migration_id=member.id,
                                           state=DriveState.MIGRATED.value,
                                           hook_attempts=0, late_files=0, released_bytes=0))
    session.flush()
    return wave_rows(session, wave)


def wave_rows(session: Session, wave: MigrationWave) -> list[DriveAfterCutover]:
    return list(session.scalars(
        select(DriveAfterCutover).join(PersonMigration)
        .options(joinedload(DriveAfterCutover.migration).joinedload(PersonMigration.person))
        .where(PersonMigration.wave_id == wave.id).order_by(PersonMigration.id)))


def person_row(session: Session, wave: MigrationWave, key: str) -> DriveAfterCutover:
    for row in wave_rows(session, wave):
        person = row.migration.person
        if key.strip() in (person.number, person.upn):
            return row
    raise NotFound(f"nobody {key!r} in wave {wave.name!r} has finished cutover")


def row_json(row: DriveAfterCutover) -> dict[str, Any]:
    person = row.migration.person
    return {"person": person.number, "name": person.display_name, "upn": person.upn,
            "state": row.state, "next_step": NEXT_STEP.get(row.state),
            "due_at": row.due_at, "entered_at": row.entered_at,
            "hook_error": row.hook_error, "hook_attempts": row.hook_attempts,
            "late_files": row.late_files, "signed_off_by": row.signed_off_by,
            "signed_off_at": row.signed_off_at, "disposal_batch": row.disposal_batch_id,
            "released_bytes": row.released_bytes, "kfm_added_at": row.kfm_added_at}


def view_rows(session: Session, wave: MigrationWave) -> list[dict[str, Any]]:
    """What the pages, API and CLI show, without writing: each lifecycle row, and each
    migrated person who has none yet (``migrated``, grace not started)."""
    rows = wave_rows(session, wave)
    have = {r.migration_id for r in rows}
    shown = {r.migration_id: row_json(r) for r in rows}
    for member in session.scalars(select(PersonMigration).options(
            joinedload(PersonMigration.person)).where(
            PersonMigration.wave_id == wave.id,
            PersonMigration.state == MigrationState.MIGRATED.value)):
        if member.id not in have:
            person = member.person
            shown[member.id] = {
                **dict.fromkeys(("due_at", "entered_at", "hook_error", "signed_off_by",
                                 "signed_off_at", "disposal_batch", "kfm_added_at")),
                "person": person.number, "name": person.display_name, "upn": person.upn,
                "state": DriveState.MIGRATED.value, "next_step": "grace",
                "hook_attempts": 0, "late_files": 0, "released_bytes": 0}
    return [shown[key] for key in sorted(shown)]


def person_lifecycle(session: Session, person_id: int) -> DriveAfterCutover | None:
    """The person's drive lifecycle, for their page (None before their cutover)."""
    return session.scalar(select(DriveAfterCutover).join(PersonMigration)
                          .where(PersonMigration.person_id == person_id)
                          .order_by(DriveAfterCutover.id.desc()).limit(1))


# --------------------------------------------------------------------------- steps


@dataclass
class StepResult:
    person: str
    step: str
    done: bool
    reason: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"person": self.person, "step": self.step, "done": self.done,
                "reason": self.reason}


def advance(
    session: Session, actor: Actor, settings: Settings, wave: MigrationWave, *,
    people: Sequence[str] = (), reason: str | None = None, clock: Clock | None = None,
) -> list[StepResult]:
    """Take each person's next step: the ``people`` named, or else everyone whose step is
    due (a release waits for its sign-off and batch, so only those ready are tried). Each
    person's step is committed on its own; a refusal or a failed hook is reported and
    leaves that person where they were."""
    clock = clock or SystemClock()
    now = clock.now()
    rows = ensure_rows(session, actor, wave)
    session.commit()
    if people:
        wanted = {p.strip() for p in people}
        rows = [r for r in rows if r.migration.person.number in wanted
                or r.migration.person.upn in wanted]
        if not rows:
            raise NotFound(f"nobody named is in wave {wave.name!r} after cutover")
    else:
        rows = [r for r in rows if _ready(r, now)]
    return [_step(session, actor, settings, wave, row, reason, now) for row in rows]


def _ready(row: DriveAfterCutover, now: datetime) -> bool:
    if row.state == DriveState.RELEASED.value:
        return False
    if row.state == DriveState.ARCHIVED.value and (row.signed_off_by is None
                                                   or row.disposal_batch_id is None):
        return False
    return row.due_at is None or utc(row.due_at) <= now


def _step(session: Session, actor: Actor, settings: Settings, wave: MigrationWave,
          row: DriveAfterCutover, reason: str | None, now: datetime) -> StepResult:
    number = row.migration.person.number
    step = NEXT_STEP.get(row.state)
    if step is None:
        return StepResult(number, "-", False, "the drive is released: nothing left to do")
    hook_done = False
    if step in HOOKS:
        early = _due(Context(session, actor, reason, {"now": now}), row)
        if early:  # not due: the hook is not run at all
            return StepResult(number, step, False, early)
        failure = _run_step_hook(session, actor, settings, wave, row, step)
        if failure:
            return StepResult(number, step, False, failure)
        hook_done = True
    try:
        run_transition(session, actor, AFTER_LIFECYCLE, step, [row], reason=reason, now=now,
                       settings=settings, hook_done=hook_done,
                       **_released(session, row, step))
    except TransitionRefused as refused:
        session.rollback()
        return StepResult(number, step, False, refused.message)
    session.commit()
    return StepResult(number, step, True)


def _released(session: Session, row: DriveAfterCutover, step: str) -> dict[str, int]:
    if step != "release" or row.disposal_batch_id is None:
        return {}
    total = session.scalar(select(func.coalesce(func.sum(DisposalItem.size), 0)).where(
        DisposalItem.batch_id == row.disposal_batch_id,
        DisposalItem.person == row.migration.person.number,
        DisposalItem.outcome == ItemOutcome.DELETED.value))
    return {"released_bytes": int(total or 0)}


def _run_step_hook(session: Session, actor: Actor, settings: Settings, wave: MigrationWave,
                   row: DriveAfterCutover, step: str) -> str | None:
    """Run the step's hook for the person; None when it succeeded, else why not (also
    recorded on the row, with the attempt counted, and the run audited either way)."""
    setting, what = HOOKS[step]
    command = getattr(settings, setting)
    person = row.migration.person
    failure: str | None
    if not command:
        failure = f"no {what} is configured ({setting}): the force's tooling does this step"
    else:
        try:
            source = str(source_spec(settings, person)["root"])
        except DriveRootRefused as err:
            failure = err.message
        else:
            variables = hook_environment(person=person.number, wave=wave.name, upn=person.upn,
                                         source=source, sam=person.sam_account_name)
            run = run_hook(command, variables, settings.after_hook_timeout_seconds, what)
            audit.event(session, actor, f"migration_drive_after.{step}_hook",
                        "migration_drive_after", str(row.id),
                        {"person": person.number, "wave": wave.name, **run.audit_data()},
                        reason=run.reason)
            failure = None if run.frozen else (run.reason or f"the {what} failed")
    if failure:
        with audit.change(session, actor, "migration_drive_after.hook_failed", row,
                          reason=failure):
            row.hook_error = failure
            row.hook_attempts = (row.hook_attempts or 0) + 1
    session.commit()
    return failure


# --------------------------------------------------------------------------- sign-off


def sign_off(session: Session, actor: Actor, wave: MigrationWave, key: str, note: str, *,
             clock: Clock | None = None) -> DriveAfterCutover:
    """The data owner (the person themselves, signed in) or a records manager agrees the
    drive's space may be released."""
    if not note.strip():
        raise InvalidInput("a sign-off needs a note (what was checked)")
    row = person_row(session, wave, key)
    person = row.migration.person
    owner = actor.name.lower() in {person.upn.lower(), (person.sam_account_name or "").lower()}
    if not owner and not actor.has_any(frozenset({Role.RECORDS})):
        raise PermissionDenied("only the data owner or a records manager may sign a release "
                               "off")
    lock(session, [row])  # one winner: read again under the lock
    if row.signed_off_by is not None:
        raise Conflict(f"{person.number}: already signed off by {row.signed_off_by}")
    if row.state not in (DriveState.READ_ONLY.value, DriveState.ARCHIVED.value):
        raise Conflict(f"{person.number}: the drive is {row.state}; sign-off comes once it "
                       "is read-only or archived")
    with audit.change(session, actor, "migration_drive_after.sign_off", row, reason=note):
        row.signed_off_by = actor.name
        row.signed_off_at = (clock or SystemClock()).now()
        row.sign_off_note = note.strip()
    session.commit()
    return row


# --------------------------------------------------------------------------- release


def propose_release(session: Session, actor: Actor, settings: Settings, wave: MigrationWave,
                    *, people: Sequence[str] = (), clock: Clock | None = None
                    ) -> DisposalBatch:
    """Propose one disposal batch of every file on the archived, signed-off drives of the
    wave (or the ``people`` named): a second records manager approves it, its execution
    deletes the files (each re-checked, holds included) and certifies them."""
    rows = [r for r in wave_rows(session, wave)
            if r.state == DriveState.ARCHIVED.value and r.signed_off_by is not None
            and (not people or r.migration.person.number in people
                 or r.migration.person.upn in people)]
    if not rows:
        raise InvalidInput("no archived, signed-off drive to release")
    lock(session, rows)  # one proposal per drive: read again under the lock
    taken = [r for r in rows if r.disposal_batch_id is not None]
    rows = [r for r in rows if r.disposal_batch_id is None]
    if not rows:
        raise Conflict(f"these drives are in disposal batch {taken[0].disposal_batch_id} "
                       "already")
    version = active_rule_set(session)
    if version is None:
        raise InvalidInput("no active retention rule set: a disposal batch names one")
    candidates = []
    for row in rows:
        candidates += _drive_files(settings, row)
    if not candidates:
        raise InvalidInput("the drives hold no files: nothing to dispose of")
    authorities = {r.migration.person.number: _authority(r) for r in rows}
    batch = disposal.propose_listed(
        session, actor, version, candidates, drive_of(session, settings),
        authorities=authorities, clock=clock,
        reason=f"after cutover: release of {len(rows)} H: drive(s) of wave {wave.name}")
    for row in rows:
        with audit.change(session, actor, "migration_drive_after.batch", row,
                          reason=f"disposal batch {batch.id}"):
            row.disposal_batch_id = batch.id
    session.commit()
    return batch


def _authority(row: DriveAfterCutover) -> str:
    when = f"{utc(row.signed_off_at):%Y-%m-%d}" if row.signed_off_at else ""
    return f"H: drive released after migration: signed off by {row.signed_off_by} {when}: " \
           f"{row.sign_off_note or ''}".strip()


def _drive_files(settings: Settings, row: DriveAfterCutover) -> list[disposal.Candidate]:
    person = row.migration.person
    backend = backend_from_spec(settings, source_spec(settings, person))
    assert backend is not None
    return [disposal.Candidate(person.number, entry.path, RELEASE_RULE, None, entry.size)
            for entry in walk(backend) if entry.kind is EntryKind.FILE]


# --------------------------------------------------------------------------- sweep


@dataclass
class SweepReport:
    round: MigrationRound
    late: dict[str, list[str]] = field(default_factory=dict)  # number → paths copied
    errors: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"round": self.round.number, "status": self.round.status,
                "late": self.late, "errors": self.errors[:50]}


def sweep_rows(session: Session, actor: Actor, wave: MigrationWave) -> list[DriveAfterCutover]:
    """The drives a sweep of ``wave`` would cover (those in grace), or why it cannot run:
    nobody is in grace, or a sweep round of the wave is running. The wave's row is locked
    (by ``ensure_rows``) until the caller commits."""
    rows = [r for r in ensure_rows(session, actor, wave) if r.state == DriveState.GRACE.value]
    if not rows:
        raise InvalidInput(f"nobody in wave {wave.name!r} is in grace: nothing to sweep")
    session.refresh(wave)
    running = [r for r in wave.rounds if r.kind == RoundKind.SWEEP.value
               and r.status == RoundStatus.RUNNING.value]
    if running:
        raise Conflict(f"sweep round {running[0].number} of wave {wave.name!r} is running")
    return rows


def sweep(session: Session, actor: Actor, settings: Settings, wave: MigrationWave,
          executor: Executor, *, plan_inputs: PlanInputs | None = None,
          clock: Clock | None = None, progress: Progress | None = None) -> SweepReport:
    """A sweep round: the wave's round machinery in delta mode over the people in grace.
    A file it copies arrived after the cutover; the person is told which (one outbox
    message per person and sweep). ``progress`` is told the round's files as they copy,
    as every round's are (``launch.start_sweep`` runs it as a background job)."""
    clock = clock or SystemClock()
    # One sweep of a wave at a time: the wave stays locked (from ensure_rows) until the
    # round is started and committed; a second sweep then finds it running.
    rows = sweep_rows(session, actor, wave)
    number = max((r.number for r in wave.rounds), default=0) + 1
    round_ = audit.create(session, actor, "migration_round.plan",
                          MigrationRound(wave_id=wave.id, number=number,
                                         kind=RoundKind.SWEEP.value,
                                         status=RoundStatus.PLANNED.value))
    session.flush()
    _start_round(session, actor, round_, clock)
    session.commit()
    members = [r.migration for r in rows]
    # The same decisions as every round (retention rules and review decisions): a file
    # the rules keep in the archive is not a late file for OneDrive. A late file is newer
    # than the last scan, and a file the scan does not know waits: so the drives in grace
    # are scanned again first, and the rules decide the late files too.
    # (Whoever built the plan inputs: the job, the CLI and the API pass their own.)
    from mobilise.drives.estate import scan_people
    from mobilise.migration.decisions import MigrationDecisions, plan_inputs_from_estate

    if plan_inputs is None:
        plan_inputs = plan_inputs_from_estate(settings, session, clock)
    if isinstance(plan_inputs, MigrationDecisions) and plan_inputs.rule_set is not None:
        scan_people(session, settings, [m.person for m in members], clock)
        session.commit()
    report = sync_people(session, actor, settings, round_, members, executor,
                         plan_inputs=plan_inputs, progress=progress)
    _finish_round(session, actor, round_, report, executor, clock)
    found = SweepReport(round_, errors=list(report.errors))
    for row in rows:
        person = row.migration.person
        late = [r.path for r in read_journal(journal_path(settings.data_dir, person.number,
                                                          round_.journal_name))
                if r.outcome == "copied" and _after_freeze(r.modified, row.migration)]
        if late:
            found.late[person.number] = late
            _tell_late(session, actor, settings, wave, round_, row, late, clock)
    session.commit()
    return found


def _after_freeze(modified: str | None, member: PersonMigration) -> bool:
    """A late file is one changed after the person's source was frozen for cutover. (The
    sweep also copies what the rules now move that was not there before, such as a file
    whose review was decided since: caught up, but not news to the person.)"""
    frozen = member.source_frozen_at
    if frozen is None or modified is None:
        return True
    return utc(datetime.fromisoformat(modified)) > utc(frozen)


def _tell_late(session: Session, actor: Actor, settings: Settings, wave: MigrationWave,
               round_: MigrationRound, row: DriveAfterCutover, late: list[str],
               clock: Clock) -> None:
    person = row.migration.person
    with audit.change(session, actor, "migration_drive_after.late_files", row,
                      reason=f"sweep round {round_.number}: {len(late)} late file(s)"):
        row.late_files = (row.late_files or 0) + len(late)
    # A new template of this release: an estate set up before it has no version of it yet.
    templates.ensure_defaults(session, actor, clock)
    outbox.queue(session, key=f"late-files:{wave.id}:{round_.number}:{person.number}",
                 template="late_files", recipient=person.email, person_id=person.id,
                 settings=settings, clock=clock,
                 context={"person": {"first_name": person.first_name,
                                     "last_name": person.last_name,
                                     "number": person.number, "email": person.email},
                          "late": {"files": late[:200], "count": len(late),
                                   "swept_on": f"{clock.now():%d %B %Y}"}})


# --------------------------------------------------------------------------- Known Folder Move


@dataclass
class KfmResult:
    person: str
    upn: str
    outcome: str  # added, already a member, failed
    reason: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"person": self.person, "upn": self.upn, "outcome": self.outcome,
                "reason": self.reason}


def kfm_group(settings: Settings) -> str:
    if not settings.kfm_group_id:
        raise InvalidInput("no Known Folder Move group is configured (kfm_group_id)")
    return settings.kfm_group_id


def add_to_kfm_group(session: Session, actor: Actor, settings: Settings, wave: MigrationWave,
                     client: GraphClient, *, clock: Clock | None = None) -> list[KfmResult]:
    """Add the wave's people whose cutover is complete, and who are not in it yet, to the
    Entra ID group the force's Known Folder Move policy targets: KFM then applies to them,
    and never before their files are in OneDrive. Each addition is recorded (audited) as
    it is made; one that fails is reported and tried again next time."""
    group = kfm_group(settings)
    clock = clock or SystemClock()
    results = []
    rows = ensure_rows(session, actor, wave)
    session.commit()  # no lock is held across the Graph requests
    for row in rows:
        person = row.migration.person
        if row.kfm_added_at is not None:
            continue
        try:
            added = graph_groups.add_member(client, group,
                                            graph_groups.user_id(client, person.upn))
        except GraphError as err:
            results.append(KfmResult(person.number, person.upn, "failed", err.message))
            continue
        # Recorded once however many runs added them at once (a conditional update): the
        # Graph request is not made under a row lock.
        lock(session, [row])
        if row.kfm_added_at is None:
            with audit.change(session, actor, "migration_drive_after.kfm", row,
                              reason=f"Known Folder Move group {group}"):
                row.kfm_added_at = clock.now()
        session.commit()
        results.append(KfmResult(person.number, person.upn,
                                 "added" if added else "already a member"))
    session.commit()
    return results


KFM_COLUMNS = ["group_id", "user_principal_name", "person", "name", "wave", "cutover_complete"]


def kfm_membership_csv(session: Session, actor: Actor, settings: Settings,
                       wave: MigrationWave) -> str:
    """The same people as a membership CSV, for a force that loads groups itself."""
    rows = [{"group_id": settings.kfm_group_id or "", "user_principal_name": r.migration.person.upn,
             "person": r.migration.person.number, "name": r.migration.person.display_name,
             "wave": wave.name, "cutover_complete": "yes"}
            for r in ensure_rows(session, actor, wave)]
    session.commit()
    return to_csv(rows, KFM_COLUMNS)


# --------------------------------------------------------------------------- storage released


@dataclass
class WaveReleased:
    wave: str
    people: int
    released: int
    released_bytes: int

    def as_json(self) -> dict[str, Any]:
        return {"wave": self.wave, "people": self.people, "released": self.released,
                "released_bytes": self.released_bytes,
                "released_tb": round(self.released_bytes / TB, 3)}


@dataclass
class StorageReleased:
    waves: list[WaveReleased]
    released_bytes: int
    estate_bytes: int  # the H: drives' size at their first complete scan

    # People read sizes in the unit that fits (599 MB, not "0.001 TB"); the JSON keeps
    # bytes and TB for machines.
    @property
    def released_text(self) -> str:
        return size_text(self.released_bytes)

    @property
    def estate_text(self) -> str:
        return size_text(self.estate_bytes)

    @property
    def share(self) -> float | None:
        return self.released_bytes / self.estate_bytes if self.estate_bytes else None

    def as_json(self) -> dict[str, Any]:
        return {"waves": [w.as_json() for w in self.waves],
                "released_bytes": self.released_bytes,
                "released_tb": round(self.released_bytes / TB, 3),
                "estate_bytes": self.estate_bytes,
                "estate_tb": round(self.estate_bytes / TB, 3),
                "share": None if self.share is None else round(self.share, 4)}


def storage_released(session: Session) -> StorageReleased:
    """Storage released on Isilon per wave and in total, against the estate at the first
    scan: the bytes of released drives that their disposal batches deleted."""
    rows = session.execute(
        select(MigrationWave.name, func.count(DriveAfterCutover.id),
               func.sum(func.coalesce(DriveAfterCutover.released_bytes, 0)))
        .join(PersonMigration, PersonMigration.wave_id == MigrationWave.id)
        .join(DriveAfterCutover, DriveAfterCutover.migration_id == PersonMigration.id)
        .where(DriveAfterCutover.state == DriveState.RELEASED.value)
        .group_by(MigrationWave.name).order_by(MigrationWave.name)).all()
    people = dict(session.execute(
        select(MigrationWave.name, func.count(PersonMigration.id))
        .join(PersonMigration, PersonMigration.wave_id == MigrationWave.id)
        .group_by(MigrationWave.name)).all())
    waves = [WaveReleased(name, int(people.get(name, 0)), int(count), int(total or 0))
             for name, count, total in rows]
    return StorageReleased(waves, sum(w.released_bytes for w in waves), _first_scan_estate(session))


def _first_scan_estate(session: Session) -> int:
    first = (select(DriveScan.person_id, func.min(DriveScan.scanned_at).label("at"))
             .where(DriveScan.status == ScanStatus.COMPLETE.value)
             .group_by(DriveScan.person_id).subquery())
    total = session.scalar(select(func.coalesce(func.sum(DriveScan.bytes), 0)).join(
        first, (first.c.person_id == DriveScan.person_id) & (first.c.at == DriveScan.scanned_at))
        .where(DriveScan.status == ScanStatus.COMPLETE.value))
    return int(total or 0)
