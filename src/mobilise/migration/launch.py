"""Starting a wave's next round from the web: checked at once (so a request that cannot
start gets its answer straight away), then run in the background under a ``Job`` whose
row carries the round's live progress."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from mobilise.core.actor import Actor
from mobilise.core.db import serialise_on
from mobilise.core.errors import Conflict, InvalidInput
from mobilise.core.jobs import running_jobs
from mobilise.core.progress import Job, JobProgress, Progress
from mobilise.core.settings import Settings
from mobilise.core.transitions import run_transition
from mobilise.core.words import label
from mobilise.migration import after
from mobilise.migration.decisions import plan_inputs_from_estate
from mobilise.migration.models import MigrationRound, MigrationWave, RoundKind, RoundStatus
from mobilise.migration.notices import Stage, WaveNotices, queue_stage_job
from mobilise.migration.progress import JOB_KIND
from mobilise.migration.rounds import next_round, run_round
from mobilise.migration.transitions import ROUND_LIFECYCLE
from mobilise.workers import open_executor
from mobilise.workers.background import WorkFailed, start_job

EXECUTORS = ("inprocess", "processes", "celery")
CLAIM_FRESH = timedelta(minutes=10)


def round_to_start(wave: MigrationWave, number: int | None = None) -> MigrationRound:
    """The round a start request would run, or why none can start now. A failed round
    comes first: it is retried (planned again and run), never passed over for the next."""
    running = [r.number for r in wave.rounds if r.status == RoundStatus.RUNNING.value]
    if running:
        raise Conflict(f"wave {wave.name!r}: round {running[0]} is running; wait for it "
                       "to finish (or retry it if it was interrupted)")
    # A failed sweep (after cutover) is not retried here: the next sweep covers it.
    failed = next((r for r in wave.rounds if r.status == RoundStatus.FAILED.value
                   and r.kind not in (RoundKind.CUTOVER.value, RoundKind.SWEEP.value)), None)
    if failed is not None and number not in (None, failed.number):
        raise Conflict(f"wave {wave.name!r}: round {failed.number} failed "
                       f"({failed.reason or 'no reason recorded'}); retry it first")
    round_ = failed or next_round(wave, number)
    if round_.kind == RoundKind.CUTOVER.value:
        raise InvalidInput("the cutover round runs through `migrate cutover`, which needs "
                           "the sources frozen")
    if round_.status not in (RoundStatus.PLANNED.value, RoundStatus.FAILED.value):
        raise Conflict(f"wave {wave.name!r}: round {round_.number} is {round_.status}; "
                       "only a planned or failed round can start")
    return round_


def claim_wave(session: Session, kind: str, wave_id: int, refusal: str,
               **about: Any) -> None:
    """One job of ``kind`` for a wave (and ``about``, e.g. its stage) at a time: the
    wave's row is locked, then its running jobs are read as committed (a concurrent start
    waits here, then sees ours and is refused with ``refusal``). A job counts while fresh:
    it guards the moments before its work is under way, and a row left "running" by a
    killed server must not block forever."""
    serialise_on(session, MigrationWave.__table__, MigrationWave.id == wave_id)
    if running_jobs(session, kind, fresh=CLAIM_FRESH, wave_id=wave_id, **about):
        raise Conflict(refusal)


def start_round(sessions: sessionmaker[Session], actor: Actor, settings: Settings,
                wave: MigrationWave, *, number: int | None = None,
                executor: str = "inprocess", workers: int = 4) -> Job:
    """Start the wave's next (or the given) pre-seed or delta round in the background."""
    round_ = round_to_start(wave, number)
    if executor not in EXECUTORS:
        raise InvalidInput(f"unknown executor {executor!r}; known: {', '.join(EXECUTORS)}")
    options: dict[str, Any] = {"workers": workers} if executor != "celery" else {}
    pool = open_executor(executor, settings, **options)
    if round_.status == RoundStatus.FAILED.value:
        # Planned again at once (one winner: a conditional transition), then run.
        with sessions() as session:
            again = session.get(MigrationRound, round_.id)
            assert again is not None
            run_transition(session, actor, ROUND_LIFECYCLE, "replan", [again],
                           reason=f"retried after: {round_.reason or 'a failure'}")
            session.commit()
    wave_id, wave_name, round_number = wave.id, wave.name, round_.number
    kind = label(round_.kind)

    def work(session: Session, progress: Progress) -> str:
        found = session.get(MigrationWave, wave_id)
        assert found is not None
        decisions = plan_inputs_from_estate(settings, session)
        report = run_round(session, actor, settings, found, pool, number=round_number,
                           plan_inputs=decisions, progress=progress,
                           notices=WaveNotices(actor, settings))
        if report.failure:
            raise WorkFailed(f"round {round_number} ({kind}) failed: {report.failure}")
        message = f"round {round_number} ({kind}): {report.round.status}; " \
                  f"{len(report.people)} people; {decisions.describe()}"
        if report.errors:
            raise WorkFailed(f"{message}; {len(report.errors)} task error(s), the first: "
                             f"{report.errors[0]}")
        return message

    def claim(session: Session) -> None:
        # One round of a wave at a time (a sweep is a round too).
        claim_wave(session, JOB_KIND, wave_id,
                   f"wave {wave_name!r}: a round is being started or run already")
        found = session.get(MigrationWave, wave_id, populate_existing=True)
        assert found is not None
        round_to_start(found, round_number)

    return start_job(sessions, JOB_KIND, f"wave {wave_name}: round {round_number} ({kind})",
                     work, stats={"wave_id": wave_id, "round": round_number}, claim=claim)


def start_sweep(sessions: sessionmaker[Session], actor: Actor, settings: Settings,
                wave: MigrationWave, *, executor: str = "inprocess", workers: int = 2,
                here: Progress | None = None) -> Job:
    """Start a sweep round of the wave (``after.sweep``: the drives in grace synced again,
    late files copied and their owners told) in the background, as a round's job: the
    wave page shows it live as it shows a round. Refused at once when nobody is in
    grace, or a round or sweep of the wave is running or being started."""
    if executor not in EXECUTORS:
        raise InvalidInput(f"unknown executor {executor!r}; known: {', '.join(EXECUTORS)}")
    wave_id, wave_name = wave.id, wave.name

    def claim(session: Session) -> None:
        claim_wave(session, JOB_KIND, wave_id,
                   f"wave {wave_name!r}: a round or sweep is being started or run already")
        found = session.get(MigrationWave, wave_id, populate_existing=True)
        assert found is not None
        after.sweep_rows(session, actor, found)

    def work(session: Session, progress: JobProgress) -> str:
        found = session.get(MigrationWave, wave_id)
        assert found is not None
        options: dict[str, Any] = {"workers": workers} if executor != "celery" else {}
        # The sweep builds the retention decisions itself, after scanning the drives.
        report = after.sweep(session, actor, settings, found,
                             open_executor(executor, settings, **options), progress=progress)
        late = {number: {"files": len(paths), "first": paths[0]}
                for number, paths in report.late.items()}
        progress.note(round=report.round.number, late=late, errors=len(report.errors))
        message = f"sweep round {report.round.number}: {report.round.status}; " \
                  f"{len(late)} people had {sum(len(p) for p in report.late.values())} " \
                  "late file(s)"
        if report.errors:
            raise WorkFailed(f"{message}; {len(report.errors)} task error(s), the first: "
                             f"{report.errors[0]}")
        return message

    return start_job(sessions, JOB_KIND, f"wave {wave_name}: sweep", work,
                     stats={"wave_id": wave_id, "sweep": True}, claim=claim, here=here)


NOTICE_KIND = "wave-messages"


def start_notices(sessions: sessionmaker[Session], actor: Actor, settings: Settings,
                  wave: MigrationWave, stage: Stage | str, *, here: Progress | None = None,
                  commit_every: float = 1.0) -> Job:
    """Queue a stage's message to each person of the wave who has not had it
    (``notices.queue_stage_job``) in the background, telling the job each person; one
    run of a wave's stage at a time. When done, the job's stats carry the counts
    (``queued``, ``already``, ``skipped``)."""
    stage = Stage(stage)
    wave_id, wave_name = wave.id, wave.name
    what = label(stage.template)

    def claim(session: Session) -> None:
        claim_wave(session, NOTICE_KIND, wave_id,
                   f"wave {wave_name!r}: the {what} is being queued already",
                   stage=stage.value)

    def work(session: Session, progress: JobProgress) -> str:
        run = queue_stage_job(session, actor, settings, wave_id, stage, progress,
                              commit_every=commit_every, job=progress.job_id)
        progress.note(**run.as_dict())
        said = run.describe()
        return said[:1].upper() + said[1:]  # the job's description names the wave

    return start_job(sessions, NOTICE_KIND, f"wave {wave_name}: queue the {what}", work,
                     stats={"wave_id": wave_id, "stage": stage.value}, claim=claim, here=here)
