"""Queries over the live status of long work (``core.progress.Job`` rows); long work is
started in the background from a web request by ``workers.background``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilise.core.clock import Clock, SystemClock, utc
from mobilise.core.progress import Job

# A running job whose row has not been written for this long is shown as stalled (its
# process has most likely gone).
STALLED_AFTER = timedelta(minutes=5)


def job_row(job: Job, clock: Clock | None = None) -> dict[str, Any]:
    now = (clock or SystemClock()).now()
    elapsed = max((utc(job.updated_at) - utc(job.started_at)).total_seconds(), 0.0)
    rate = job.done / elapsed if elapsed > 0 else None
    remaining = None
    if rate and job.total is not None and job.status == "running":
        remaining = max(job.total - job.done, 0) / rate
    stale = job.status == "running" and now - utc(job.updated_at) > STALLED_AFTER
    return {
        "id": job.id, "kind": job.kind, "description": job.description,
        "status": "stalled" if stale else job.status, "done": job.done, "total": job.total,
        "percent": round(100 * job.done / job.total, 1) if job.total else None,
        "rate_per_s": round(rate, 1) if rate else None,
        "eta_s": round(remaining) if remaining is not None else None,
        "stats": job.stats or {}, "message": job.message,
        "started_at": job.started_at, "updated_at": job.updated_at,
    }


def recent_jobs(session: Session, *, kind: str | None = None, active: bool = False,
                limit: int = 50) -> list[Job]:
    stmt = select(Job).order_by(Job.id.desc()).limit(limit)
    if kind:
        stmt = stmt.where(Job.kind == kind)
    if active:
        stmt = stmt.where(Job.status == "running")
    return list(session.scalars(stmt))


def started_job(session: Session, job_id: int | None, kind: str) -> dict[str, Any] | None:
    """The background job a form started (``?job=``), for its live status and result on
    the page the form redirects to; None for no job, or one of another kind."""
    job = session.get(Job, job_id) if job_id else None
    return job_row(job) if job is not None and job.kind == kind else None


def running_jobs(session: Session, kind: str, *, fresh: timedelta = STALLED_AFTER,
                 **about: Any) -> list[Job]:
    """Jobs of ``kind`` running now whose stats carry each of ``about`` (the rule set,
    the wave): what a second start of the same work finds. A row not written for
    ``fresh`` does not count: the process running it has gone, and it must not block
    the work from being started again."""
    rows = session.scalars(select(Job).where(
        Job.kind == kind, Job.status == "running",
        Job.updated_at >= SystemClock().now() - fresh).order_by(Job.id.desc()))
    return [job for job in rows
            if all((job.stats or {}).get(k) == v for k, v in about.items())]
