"""Long work started from a request: a Job row at once, the work on a thread, the row
closed with the outcome."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from mobilise.core.db import session_factory
from mobilise.core.progress import Job, Progress
from mobilise.core.settings import Settings
from mobilise.workers.background import WorkFailed, start_job, wait_for_jobs


def _finished(settings: Settings, job_id: int) -> Job:
    wait_for_jobs(60)
    with session_factory(settings)() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def test_the_job_reports_progress_and_closes_with_the_message(
        sqlite_settings: Settings) -> None:
    seen: dict[str, Any] = {}

    def work(session: Session, progress: Progress) -> str:
        progress.start(3, "three things")
        progress.advance(2, rate=1.5)
        seen["session"] = session
        return "all three done"

    job = start_job(session_factory(sqlite_settings), "test", "queued", work,
                    stats={"about": "x"})
    assert job.status == "running" and job.stats == {"about": "x"}
    done = _finished(sqlite_settings, job.id)
    assert (done.status, done.message, done.total, done.done) == \
        ("done", "all three done", 3, 2)
    assert done.description == "three things" and done.stats == {"about": "x", "rate": 1.5}


def test_a_failing_job_says_why(sqlite_settings: Settings) -> None:
    sessions = session_factory(sqlite_settings)

    def broken(session: Session, progress: Progress) -> str:
        raise ValueError("the share is offline")

    def unsuccessful(session: Session, progress: Progress) -> str:
        raise WorkFailed("round 2 (delta): failed; 1 task error(s)")

    first = start_job(sessions, "test", "broken", broken)
    second = start_job(sessions, "test", "unsuccessful", unsuccessful)
    assert (_finished(sqlite_settings, first.id).status,
            _finished(sqlite_settings, first.id).message) == \
        ("failed", "ValueError: the share is offline")
    assert _finished(sqlite_settings, second.id).message == \
        "round 2 (delta): failed; 1 task error(s)"
