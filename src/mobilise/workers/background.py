"""Long work started from a web request: the request gets a ``Job`` row at once (to
answer 202 with it) and the work runs on a thread of the web process, reporting through
that row, which the pages and ``/api/v1/jobs`` already show.

The thread only coordinates: the work itself may still go to the process pool or to
Celery through an executor. A web process that stops takes its threads with it; the
row then shows as stalled (see ``core.jobs``) and the work is safe to start again,
because every background task here is idempotent.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from mobilise.core.clock import Clock, SystemClock
from mobilise.core.db import unit_of_work
from mobilise.core.progress import Job, JobProgress, Progress
from mobilise.core.settings import Settings

log = logging.getLogger(__name__)

# The work: given a unit-of-work session and a progress reporter bound to the job, do it
# and return the job's closing message; an exception fails the job with its message.
Work = Callable[[Session, JobProgress], str]

_threads: list[threading.Thread] = []
_threads_lock = threading.Lock()


class WorkFailed(Exception):
    """Raised by work that ran to its end but did not succeed: the job fails with this
    message alone (what was done is already committed)."""


def start_job(sessions: sessionmaker[Session], kind: str, description: str, work: Work, *,
              stats: dict[str, Any] | None = None, clock: Clock | None = None,
              claim: Callable[[Session], None] | None = None,
              here: Progress | None = None) -> Job:
    """Record a running ``Job`` (with ``stats`` that say what it is about) and start
    ``work`` on a thread; returns the job row. ``claim``, run in the transaction that
    records the job, takes the locks that make one start win and raises ``Conflict`` for
    the others (work of which only one may run at a time).

    ``here``: run the work in this thread instead (the CLI), reporting to ``here`` (a
    terminal bar) as well as to the job's row, and return the row as it closed: the same
    claim, row, audit and work as from the web, only waited for."""
    clock = clock or SystemClock()
    with sessions() as session:
        if claim is not None:
            claim(session)
        now = clock.now()
        job = Job(kind=kind, description=description[:300], total=None, done=0,
                  started_at=now, updated_at=now, status="running", stats=stats or {})
        session.add(job)
        session.commit()
        session.refresh(job)
        session.expunge(job)  # the row as started, for the caller's 202
    if here is not None:
        _run(sessions, job.id, work, clock, here)
        with sessions() as session:
            closed = session.get(Job, job.id)
            assert closed is not None
            session.expunge(closed)
            return closed
    thread = threading.Thread(target=_run, args=(sessions, job.id, work, clock),
                              name=f"job-{job.id}", daemon=True)
    with _threads_lock:  # requests start jobs from many threads at once
        _threads[:] = [t for t in _threads if t.is_alive()]  # a long server forgets old ones
        _threads.append(thread)
        thread.start()
    return job


def _run(sessions: sessionmaker[Session], job_id: int, work: Work, clock: Clock,
         echo: Progress | None = None) -> None:
    job_session = sessions()
    try:
        job = job_session.get(Job, job_id)
        assert job is not None
        progress = JobProgress(job_session, job.kind, clock, job_id=job_id, echo=echo)
        try:
            with unit_of_work(sessions) as session:
                message = work(session, progress)
        except WorkFailed as failed:
            job_session.rollback()
            _close(job_session, job_id, "failed", str(failed), clock)
            return
        except Exception as exc:  # noqa: BLE001 - the job row says why it failed
            log.exception("background job %s failed", job_id)
            job_session.rollback()
            _close(job_session, job_id, "failed", f"{type(exc).__name__}: {exc}", clock)
            return
        except BaseException:
            # Ctrl-C at the terminal: the row says so at once (not "running" until it looks
            # stalled), and what was committed stays; running it again carries on.
            job_session.rollback()
            _close(job_session, job_id, "failed", "interrupted", clock)
            raise
        _close(job_session, job_id, "done", message, clock)
    finally:
        job_session.close()


def _close(session: Session, job_id: int, status: str, message: str, clock: Clock) -> None:
    job = session.get(Job, job_id)
    assert job is not None
    job.status = status
    job.message = message[:2000]
    job.updated_at = clock.now()
    session.commit()


def start_task(sessions: sessionmaker[Session], settings: Settings, kind: str,
               description: str, task_name: str, payload: dict[str, Any], *,
               stats: dict[str, Any] | None = None) -> Job:
    """Start a registered task (``workers.task``) as a job on
    ``settings.background_executor`` (a thread here, or a Celery worker). The task gets
    ``job_id`` in its payload and reports through ``JobProgress(..., job_id=...)``, so the
    same row shows its progress wherever it runs."""

    def work(session: Session, progress: JobProgress) -> str:
        from mobilise.workers import open_executor

        pool = open_executor(settings.background_executor, settings)
        [result] = pool.run_all(task_name, [{**payload, "job_id": progress.job_id}])
        if result.error is not None:
            raise WorkFailed(result.error)
        return ", ".join(f"{k} {v}" for k, v in (result.value or {}).items())

    return start_job(sessions, kind, description, work, stats=stats)


def wait_for_jobs(timeout: float | None = None) -> None:
    """Wait for the background jobs started so far (tests, and a graceful shutdown)."""
    with _threads_lock:
        started = list(_threads)
    for thread in started:
        thread.join(timeout)
    with _threads_lock:
        _threads[:] = [t for t in _threads if t.is_alive()]


def job_payload(job: Job, **links: Any) -> dict[str, Any]:
    from mobilise.core.jobs import job_row

    return {**job_row(job), "links": {"job": f"/api/v1/jobs/{job.id}", **links}}
