"""Starting a wave's next round from the web: checked at once (so a request that cannot
start gets its answer straight away), then run in the background under a ``Job`` whose
row carries the round's live progress."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mobilise.core.actor import Actor
from mobilise.core.clock import SystemClock
from mobilise.core.db import serialise_on
from mobilise.core.errors import Conflict, InvalidInput
from mobilise.core.progress import Job, Progress
from mobilise.core.settings import Settings
from mobilise.core.transitions import run_transition
from mobilise.core.words import label
from mobilise.migration.decisions import plan_inputs_from_estate
from mobilise.migration.models import MigrationRound, MigrationWave, RoundKind, RoundStatus
from mobilise.migration.notices import WaveNotices
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
        # One round of a wave at a time: the wave's row is locked, then its running jobs
        # and rounds are read as committed (a concurrent start waits here, then sees ours).
        # A job counts while fresh: it guards the moments before its round is marked
        # running, and a job row left "running" by a killed server must not block forever.
        serialise_on(session, MigrationWave.__table__, MigrationWave.id == wave_id)
        running = session.scalars(select(Job).where(
            Job.kind == JOB_KIND, Job.status == "running",
            Job.updated_at >= SystemClock().now() - CLAIM_FRESH))
        if any((job.stats or {}).get("wave_id") == wave_id for job in running):
            raise Conflict(f"wave {wave_name!r}: a round is being started or run already")
        found = session.get(MigrationWave, wave_id, populate_existing=True)
        assert found is not None
        round_to_start(found, round_number)

    return start_job(sessions, JOB_KIND, f"wave {wave_name}: round {round_number} ({kind})",
                     work, stats={"wave_id": wave_id, "round": round_number}, claim=claim)
