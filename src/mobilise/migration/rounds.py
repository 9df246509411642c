"""Running a wave's rounds and cutting people over.

A round dispatches one sync task per shard of each person's drive to an executor (the
in-process pool or Celery), then records each person's totals. Cutover is the only way a
person becomes ``migrated``: the operator confirms the source is frozen, a final delta
round runs, and a full verification must find every file that should move at its
destination with the source's hash. Any problem leaves the person on their H: drive,
``failed`` with the reason, to be retried.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from mobilise.core import audit
from mobilise.core.actor import Actor
from mobilise.core.clock import Clock, SystemClock
from mobilise.core.errors import Conflict, ExternalServiceError, InvalidInput, TransitionRefused
from mobilise.core.progress import NullProgress, Progress
from mobilise.core.settings import Settings
from mobilise.core.transitions import run_transition
from mobilise.core.words import label
from mobilise.drives.roots import DriveRootRefused, confine_drive_root
from mobilise.migration import offline
from mobilise.migration.freeze import hook_environment, run_freeze_hook
from mobilise.migration.journal import Journal, journal_path, verified_hashes
from mobilise.migration.models import (
    MigrationRound,
    MigrationState,
    MigrationWave,
    PersonMigration,
    RoundKind,
    RoundStatus,
)
from mobilise.migration.progress import JournalFollower, ProgressMeter, RoundWatcher
from mobilise.migration.sync import counted_shards
from mobilise.migration.tasks import backend_from_spec, read_plan_inputs
from mobilise.migration.transitions import PERSON_LIFECYCLE, ROUND_LIFECYCLE
from mobilise.migration.verify import verify_person
from mobilise.migration.waves import leaver_reason, wave_people
from mobilise.people.models import Person
from mobilise.workers.executors import Executor, TaskResult

# Per person: (dispositions or None for "everything migrates", renames old → new).
PlanInputs = Callable[[Person], tuple[dict[str, str] | None, dict[str, str]]]


class StageNotices(Protocol):
    """Told as each stage of a wave happens to its people, to queue their messages
    (``migration.notices.WaveNotices``): ``announcement`` and ``readiness`` as the pre-seed
    round starts, ``cutover`` as their source is frozen, ``completion`` once their cutover
    is verified. It commits what it queues."""

    def __call__(self, session: Session, wave: MigrationWave, stage: str,
                 members: Sequence[PersonMigration], when: datetime | None = None) -> None: ...


# --------------------------------------------------------------------------- endpoints


def source_spec(settings: Settings, person: Person) -> dict[str, Any]:
    """The person's H: drive as this machine reaches it: through the home template, else
    the folder of their recorded home directory (``\\\\isilon\\home$\\asmith``) under the
    share's mount point (``MOBILISE_HOME_ROOT``). A root that is not a folder inside the
    home root is refused (``DriveRootRefused``), never followed."""
    name = person.sam_account_name or person.number
    if settings.home_template:
        root = settings.home_template.format(sam=name, number=person.number)
    else:
        recorded = (person.home_directory or "").replace("\\", "/").rstrip("/")
        root = str(Path(settings.home_root) / (recorded.rsplit("/", 1)[-1] or name))
    return {"kind": "local", "root": confine_drive_root(root, settings.home_root),
            "durable": False}


def destination_spec(settings: Settings, person: Person) -> dict[str, Any]:
    if settings.migration_destination == "local":
        root = Path(settings.migration_destination_root) / person.upn
        root.mkdir(parents=True, exist_ok=True)
        return {"kind": "local", "root": str(root)}
    return {"kind": settings.migration_destination, "settings": True, "upn": person.upn}


def archive_spec(settings: Settings, person: Person) -> dict[str, Any]:
    root = Path(settings.archive_root) / (person.sam_account_name or person.number)
    root.mkdir(parents=True, exist_ok=True)
    return {"kind": "local", "root": str(root)}


def write_plan_inputs(settings: Settings, person: Person,
                      plan_inputs: PlanInputs | None) -> str | None:
    if plan_inputs is None:
        return None
    dispositions, renames = plan_inputs(person)
    path = Path(settings.data_dir) / "plans" / f"{person.number}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"dispositions": dispositions, "renames": renames}),
                    encoding="utf-8")
    return str(path)


# --------------------------------------------------------------------------- rounds


@dataclass
class RoundReport:
    round: MigrationRound
    people: dict[str, dict[str, Any]] = field(default_factory=dict)  # number → totals
    errors: list[str] = field(default_factory=list)
    # Why the whole round failed before any task ran (its destination unreachable).
    failure: str | None = None


def next_round(wave: MigrationWave, number: int | None = None) -> MigrationRound:
    if number is not None:
        for candidate in wave.rounds:
            if candidate.number == number:
                return candidate
        raise InvalidInput(f"wave {wave.name!r} has no round {number}")
    for candidate in wave.rounds:
        if candidate.status == RoundStatus.PLANNED.value:
            return candidate
    raise InvalidInput(f"wave {wave.name!r} has no planned round left")


def run_round(
    session: Session,
    actor: Actor,
    settings: Settings,
    wave: MigrationWave,
    executor: Executor,
    *,
    number: int | None = None,
    plan_inputs: PlanInputs | None = None,
    progress: Progress | None = None,
    clock: Clock | None = None,
    notices: StageNotices | None = None,
) -> RoundReport:
    """Run a pre-seed or delta round for everyone in the wave not yet migrated."""
    clock = clock or SystemClock()
    round_ = next_round(wave, number)
    if round_.kind == RoundKind.CUTOVER.value:
        raise InvalidInput("the cutover round runs through `migrate cutover`, which needs "
                           "the operator to confirm the sources are frozen")
    members = [m for m in wave_people(session, wave)
               if m.state != MigrationState.MIGRATED.value]
    if notices is not None and round_.kind == RoundKind.PRE_SEED.value:
        # Nobody's files move before they have been told, and told what will happen.
        notices(session, wave, "announcement", members)
        notices(session, wave, "readiness", members)
    _start_round(session, actor, round_, clock)
    starting = [m for m in members if m.state != MigrationState.IN_PROGRESS.value]
    if starting:
        run_transition(session, actor, PERSON_LIFECYCLE, "start", starting)
    session.commit()
    unreachable = destination_unreachable(settings, members)
    if unreachable is not None:
        report = RoundReport(round_, errors=[unreachable], failure=unreachable)
        _fail_people(session, actor, round_, dict.fromkeys(
            (m.person.number for m in members), unreachable), members)
        _finish_round(session, actor, round_, report, executor, clock)
        return report
    report = sync_people(session, actor, settings, round_, members, executor,
                         plan_inputs=plan_inputs, progress=progress)
    _fail_people(session, actor, round_, _first_error_by_person(report), members)
    _finish_round(session, actor, round_, report, executor, clock)
    return report


def destination_unreachable(settings: Settings, members: Sequence[PersonMigration]
                            ) -> str | None:
    """Why the destination cannot be reached at all (the service is down, or its
    address wrong), found by listing the first person's destination before any task is
    sent: the round then fails in seconds with that reason, instead of every task
    finding it out after its own retries. A problem of one person's (a OneDrive not
    provisioned, access refused) is not this: their own task reports it."""
    if not members:
        return None
    try:
        backend = backend_from_spec(settings, destination_spec(settings, members[0].person))
        assert backend is not None
        try:
            next(iter(backend.list("")), None)
        finally:
            client = getattr(backend, "client", None)
            if client is not None and hasattr(client, "close"):
                client.close()
    except ExternalServiceError as exc:
        return f"the destination could not be reached: {exc}"
    except Exception:  # noqa: BLE001 - anything else is the person's own task to report
        return None
    return None


def _first_error_by_person(report: RoundReport) -> dict[str, str]:
    """Each person whose tasks failed, with the first failure (``number shard: why``)."""
    found: dict[str, str] = {}
    for error in report.errors:
        number = error.split(" ", 1)[0]
        found.setdefault(number, error.split(": ", 1)[-1])
    return found


def _fail_people(session: Session, actor: Actor, round_: MigrationRound,
                 reasons: dict[str, str], members: Sequence[PersonMigration]) -> None:
    """People the round could not sync are failed with the reason (they stay on their H:
    drive; the next round, or the round retried, starts them again)."""
    by_reason: dict[str, list[PersonMigration]] = {}
    for member in members:
        reason = reasons.get(member.person.number)
        if reason and member.state == MigrationState.IN_PROGRESS.value:
            by_reason.setdefault(reason, []).append(member)
    for reason, failed in by_reason.items():  # one bulk run per reason
        run_transition(session, actor, PERSON_LIFECYCLE, "fail", failed,
                       reason=f"round {round_.number} failed: {reason}")


def _start_round(session: Session, actor: Actor, round_: MigrationRound, clock: Clock) -> None:
    run_transition(session, actor, ROUND_LIFECYCLE, "start", [round_])
    with audit.change(session, actor, "migration_round.started", round_):
        round_.started_at = clock.now()


def _finish_round(session: Session, actor: Actor, round_: MigrationRound, report: RoundReport,
                  executor: Executor, clock: Clock) -> None:
    totals: dict[str, Any] = {"executor": executor.name, "people": len(report.people),
                              "errors": report.errors[:50]}
    for person_totals in report.people.values():
        for key, value in person_totals.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                totals[key] = totals.get(key, 0) + value
    with audit.change(session, actor, "migration_round.summarised", round_):
        round_.summary = totals
        round_.finished_at = clock.now()
    if report.errors:
        run_transition(session, actor, ROUND_LIFECYCLE, "fail", [round_],
                       reason=report.failure or f"{len(report.errors)} task(s) failed: "
                                                f"{report.errors[0]}")
    else:
        run_transition(session, actor, ROUND_LIFECYCLE, "finish", [round_])
    session.commit()


def sync_people(
    session: Session,
    actor: Actor,
    settings: Settings,
    round_: MigrationRound,
    members: Sequence[PersonMigration],
    executor: Executor,
    *,
    plan_inputs: PlanInputs | None = None,
    progress: Progress | None = None,
) -> RoundReport:
    progress = progress or NullProgress()
    payloads: list[dict[str, Any]] = []
    refused: dict[str, str] = {}
    for member in members:
        left = leaver_reason(member.person)  # they left after the wave was made
        if left:
            refused[member.person.number] = left
            continue
        try:
            payloads += person_payloads(settings, member.person, round_, plan_inputs)
        except DriveRootRefused as err:
            refused[member.person.number] = err.message
    members = _fail_refused(session, actor, members, refused)
    total_files = sum(p.pop("files") for p in payloads)
    progress.start(total_files, f"wave {round_.wave.name}: round {round_.number} "
                   f"({label(round_.kind)})")
    # Which wave and round this is, for the wave page to find its live progress.
    progress.advance(0, wave_id=round_.wave_id, round=round_.number, shards=len(payloads),
                     shards_done=0)
    follower = JournalFollower({m.person.number: journal_path(settings.data_dir,
                                                              m.person.number,
                                                              round_.journal_name)
                                for m in members})
    watcher = RoundWatcher(follower, ProgressMeter(total_files), progress,
                           interval=ROUND_PROGRESS_SECONDS)
    with watcher:
        results = executor.run_all("migration.sync_shard", payloads,
                                   on_result=ShardProgress(watcher))
    report = RoundReport(round_)
    by_person: dict[str, list[TaskResult]] = {}
    for result in results:
        by_person.setdefault(result.payload["person"], []).append(result)
    for member in members:
        totals = _person_totals(by_person.get(member.person.number, []), report)
        report.people[member.person.number] = totals
        with audit.change(session, actor, "migration_person.round", member):
            member.counts = totals
            member.last_round = round_.number
    progress.finish(f"{len(payloads)} shard(s)")
    return report


def _fail_refused(session: Session, actor: Actor, members: Sequence[PersonMigration],
                  refused: dict[str, str]) -> list[PersonMigration]:
    """People whose drive root is refused stay on their H: drive, failed with why; the
    others go on."""
    failing = [m for m in members if m.person.number in refused]
    for member in failing:
        run_transition(session, actor, PERSON_LIFECYCLE, "fail", [member],
                       reason=refused[member.person.number])
    return [m for m in members if m.person.number not in refused]


# How often a round's journals are read for live progress.
ROUND_PROGRESS_SECONDS = 1.0


class ShardProgress:
    """A finished shard: its totals top up the live progress, and it counts as done."""

    def __init__(self, watcher: RoundWatcher) -> None:
        self.watcher = watcher
        self.done = 0
        self.failed = 0

    def __call__(self, result: TaskResult) -> None:
        self.done += 1
        self.failed += 0 if result.ok else 1
        with suppress(Exception), self.watcher.lock:  # progress never fails the round
            self.watcher.progress.advance(0, shards_done=self.done, shard_errors=self.failed)
        if result.value:
            self.watcher.settle(result.payload["person"], result.value)


def person_payloads(settings: Settings, person: Person, round_: MigrationRound,
                    plan_inputs: PlanInputs | None) -> list[dict[str, Any]]:
    source = source_spec(settings, person)
    backend = backend_from_spec(settings, source)
    assert backend is not None
    base = {
        "person": person.number, "round": round_.journal_name, "source": source,
        "destination": destination_spec(settings, person),
        "archive": archive_spec(settings, person),
        "plan_inputs": write_plan_inputs(settings, person, plan_inputs),
    }
    return [{**base, "under": shard, "files": files}
            for shard, files in counted_shards(backend, settings.migration_shard_files)]


def _person_totals(results: list[TaskResult], report: RoundReport) -> dict[str, Any]:
    totals: dict[str, Any] = {"bytes_copied": 0, "throttle_events": 0, "shards": len(results)}
    for result in results:
        if not result.ok or result.value is None:
            report.errors.append(f"{result.payload['person']} {result.payload['under']}: "
                                 f"{result.error}")
            totals["task_errors"] = totals.get("task_errors", 0) + 1
            continue
        for outcome, count in result.value["outcomes"].items():
            totals[outcome] = totals.get(outcome, 0) + count
        totals["bytes_copied"] += result.value["bytes_copied"]
        totals["throttle_events"] += result.value["throttle_events"]
    return totals


# --------------------------------------------------------------------------- cutover


@dataclass
class CutoverResult:
    person: str
    migrated: bool
    reason: str | None
    verified: int = 0
    problems: list[str] = field(default_factory=list)


def cutover(
    session: Session,
    actor: Actor,
    settings: Settings,
    wave: MigrationWave,
    executor: Executor,
    *,
    frozen_confirmed: bool,
    people: Sequence[str] = (),
    review_override: str | None = None,
    plan_inputs: PlanInputs | None = None,
    clock: Clock | None = None,
    notices: StageNotices | None = None,
) -> list[CutoverResult]:
    """Cut over the wave (or the ``people`` named in it): final delta, full verification,
    then migrated or failed with the reason. ``review_override`` (a reason) lets files
    still awaiting retention review stay behind without blocking the cutover."""
    hook = settings.migration_freeze_hook
    if not frozen_confirmed and not hook:
        raise InvalidInput("cutover needs the operator to confirm the sources are frozen "
                           "(--confirm-frozen) or a freeze hook (migration_freeze_hook): "
                           "files changed after the final round would be left behind")
    clock = clock or SystemClock()
    round_ = next((r for r in wave.rounds if r.kind == RoundKind.CUTOVER.value), None)
    if round_ is None:
        raise InvalidInput(f"wave {wave.name!r} has no cutover round")
    members = [m for m in wave_people(session, wave)
               if m.state != MigrationState.MIGRATED.value
               and (not people or m.person.number in people or m.person.upn in people)]
    if not members:
        raise InvalidInput("nobody left to cut over")
    claim = uuid.uuid4().hex
    now = clock.now()
    taken = claim_for_cutover(session, members, claim, now,
                              now + timedelta(hours=settings.migration_cutover_lease_hours))
    held = [CutoverResult(m.person.number, False, "another cutover run holds this person")
            for m in members if m not in taken]
    try:
        # Read again now that they are ours: a run that held them a moment ago may have
        # cut them over (or started the round) since they were first read.
        session.refresh(round_)
        for member in taken:
            session.refresh(member)
        taken = [m for m in taken if m.state != MigrationState.MIGRATED.value]
        if not taken:
            raise InvalidInput("nobody left to cut over")
        return held + _cutover(session, actor, settings, wave, round_, taken, executor,
                        hook=hook, review_override=review_override, plan_inputs=plan_inputs,
                        clock=clock, notices=notices)
    finally:
        release_cutover_claim(session, claim)


def claim_for_cutover(session: Session, members: Sequence[PersonMigration], claim: str,
                      now: datetime, until: datetime) -> list[PersonMigration]:
    """Take ``members`` for this cutover run: a conditional update per person (free, or
    their claim lapsed), committed, so that a second cutover of the same people at the
    same time takes none of them. Returns those taken; ``Conflict`` when another run
    holds every one."""
    taken = []
    for member in members:
        done = session.execute(
            update(PersonMigration).where(
                PersonMigration.id == member.id,
                or_(PersonMigration.cutover_claimed_until.is_(None),
                    PersonMigration.cutover_claimed_until < now))
            .values(cutover_claim=claim, cutover_claimed_until=until)
            .execution_options(synchronize_session=False))
        if done.rowcount == 1:  # type: ignore[attr-defined]
            taken.append(member)
    session.commit()
    if not taken:
        who = "this person" if len(members) == 1 else f"these {len(members)} people"
        raise Conflict(f"another cutover of {who} is running: wait for it to finish (or, if "
                       "it died, for its lease to lapse) and look at the wave again")
    return taken


def release_cutover_claim(session: Session, claim: str) -> None:
    """Free the people this run took (done, failed or interrupted)."""
    session.rollback()
    session.execute(update(PersonMigration).where(PersonMigration.cutover_claim == claim)
                    .values(cutover_claim=None, cutover_claimed_until=None)
                    .execution_options(synchronize_session=False))
    session.commit()


def _cutover(session: Session, actor: Actor, settings: Settings, wave: MigrationWave,
             round_: MigrationRound, members: list[PersonMigration], executor: Executor, *,
             hook: str | None, review_override: str | None, plan_inputs: PlanInputs | None,
             clock: Clock, notices: StageNotices | None = None) -> list[CutoverResult]:
    # Laptops whose offline copy has not synced since the freeze hold their owner back:
    # work saved offline would be left behind. Those are not frozen either.
    refused = offline.blockers(session, wave, members)
    refused |= {m.id: left for m in members if (left := leaver_reason(m.person))}
    if hook:
        refused |= _freeze_by_hook(session, actor, settings, wave,
                                   [m for m in members if m.id not in refused], hook)
    frozen = [m for m in members if m.id not in refused]
    _freeze(session, actor, frozen, review_override, clock)
    if round_.status == RoundStatus.PLANNED.value:
        try:
            _start_round(session, actor, round_, clock)
        except TransitionRefused:  # a cutover of other people of the wave started it
            session.rollback()
            session.refresh(round_)
            _freeze(session, actor, frozen, review_override, clock)
    starting = [m for m in members if m.state != MigrationState.IN_PROGRESS.value]
    if starting:
        run_transition(session, actor, PERSON_LIFECYCLE, "start", starting)
    not_frozen = _fail_not_frozen(session, actor, members, refused)
    session.commit()
    if notices is not None and frozen:
        notices(session, wave, "cutover", frozen, clock.now())
    report = sync_people(session, actor, settings, round_, frozen, executor,
                         plan_inputs=plan_inputs)
    outcomes = [_verify_and_decide(session, actor, settings, round_, m, plan_inputs)
                for m in frozen]
    if notices is not None:
        done = {r.person for r in outcomes if r.migrated}
        migrated = [m for m in frozen if m.person.number in done]
        if migrated:
            notices(session, wave, "completion", migrated)
    _close_cutover_round(session, actor, wave, round_, report, executor, clock)
    return not_frozen + outcomes


def _freeze_by_hook(session: Session, actor: Actor, settings: Settings, wave: MigrationWave,
                    members: Sequence[PersonMigration], hook: str) -> dict[int, str]:
    """Run the freeze hook for each person; those it did not freeze, by id, with why.
    Each run is audited, whatever its outcome."""
    refused: dict[int, str] = {}
    for member in members:
        person = member.person
        try:
            source = str(source_spec(settings, person)["root"])
        except DriveRootRefused as err:
            refused[member.id] = err.message
            continue
        variables = hook_environment(person=person.number, wave=wave.name, upn=person.upn,
                                     source=source, sam=person.sam_account_name)
        run = run_freeze_hook(hook, variables,
                              settings.migration_freeze_hook_timeout_seconds)
        audit.event(session, actor, "migration_person.freeze_hook", "migration_person",
                    str(member.id), {"person": person.number, "wave": wave.name,
                                     **run.audit_data()}, reason=run.reason)
        if not run.frozen:
            refused[member.id] = run.reason or "the freeze hook failed"
    session.commit()
    return refused


def _fail_not_frozen(session: Session, actor: Actor, members: Sequence[PersonMigration],
                     refused: dict[int, str]) -> list[CutoverResult]:
    """People whose source could not be frozen stay on their H: drive, failed with why."""
    results = []
    for member in members:
        reason = refused.get(member.id)
        if reason is None:
            continue
        if member.source_frozen_at is not None:  # frozen for an earlier attempt, not now
            with audit.change(session, actor, "migration_person.source_not_frozen", member,
                              reason=reason):
                member.source_frozen_at = None
        run_transition(session, actor, PERSON_LIFECYCLE, "fail", [member],
                       reason=f"cutover not attempted: {reason}")
        results.append(CutoverResult(member.person.number, False, member.reason))
    return results


def _freeze(session: Session, actor: Actor, members: Sequence[PersonMigration],
            review_override: str | None, clock: Clock) -> None:
    for member in members:
        with audit.change(session, actor, "migration_person.source_frozen", member,
                          reason=review_override):
            member.source_frozen_at = clock.now()
            member.review_override = review_override


def _verify_and_decide(session: Session, actor: Actor, settings: Settings, round_: MigrationRound,
                       member: PersonMigration, plan_inputs: PlanInputs | None) -> CutoverResult:
    person = member.person
    try:
        source = backend_from_spec(settings, source_spec(settings, person))
    except DriveRootRefused as err:
        if member.state == MigrationState.IN_PROGRESS.value:  # else failed by the delta
            run_transition(session, actor, PERSON_LIFECYCLE, "fail", [member],
                           reason=err.message)
        session.commit()
        return CutoverResult(person.number, False, err.message)
    main = backend_from_spec(settings, destination_spec(settings, person))
    archive = backend_from_spec(settings, archive_spec(settings, person))
    assert source is not None and main is not None
    dispositions, renames = read_plan_inputs(write_plan_inputs(settings, person, plan_inputs))
    path = journal_path(settings.data_dir, person.number, round_.journal_name)
    with Journal(path) as journal:
        check = verify_person(source, main, archive=archive, dispositions=dispositions,
                              renames=renames, journal=journal,
                              known_hashes=verified_hashes(settings.data_dir, person.number))
    problems = [f"{p.path}: {p.reason}" for p in check.problems]
    reason = None
    if problems:
        reason = f"{len(problems)} file(s) not verified at the destination: {problems[0]}"
    elif check.waiting and not member.review_override:
        reason = (f"{len(check.waiting)} file(s) await retention review; review them or "
                  f"override with a reason")
    if reason is None:
        try:
            run_transition(session, actor, PERSON_LIFECYCLE, "migrate", [member],
                           verified=True)
        except TransitionRefused as refused:
            reason = refused.message
    if reason is not None:
        run_transition(session, actor, PERSON_LIFECYCLE, "fail", [member], reason=reason)
    session.commit()
    return CutoverResult(person.number, reason is None, reason, len(check.verified),
                         problems[:100])


def _close_cutover_round(session: Session, actor: Actor, wave: MigrationWave,
                         round_: MigrationRound, report: RoundReport, executor: Executor,
                         clock: Clock) -> None:
    pending = [m for m in wave_people(session, wave)
               if m.state not in (MigrationState.MIGRATED.value, MigrationState.FAILED.value)]
    if pending or round_.status != RoundStatus.RUNNING.value:
        return  # the rest of the wave is still to be cut over
    _finish_round(session, actor, round_, report, executor, clock)
