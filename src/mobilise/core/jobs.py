"""Queries over the live status of long work (``core.progress.Job`` rows), and starting
long work in the background from a web request (``start_job``)."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilise.core.clock import Clock, SystemClock, utc
from mobilise.core.db import session_scope
from mobilise.core.progress import Job
from mobilise.core.settings import Settings


def job_row(job: Job, clock: Clock | None = None) -> dict[str, Any]:
    now = (clock or SystemClock()).now()
    elapsed = max((utc(job.updated_at) - utc(job.started_at)).total_seconds(), 0.0)
    rate = job.done / elapsed if elapsed > 0 else None
    remaining = None
    if rate and job.total is not None and job.status == "running":
        remaining = max(job.total - job.done, 0) / rate
    stale = job.status == "running" and now - utc(job.updated_at) > timedelta(minutes=5)
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


def start_job(session: Session, settings: Settings, kind: str, description: str,
              task_name: str, payload: dict[str, Any]) -> Job:
    """Record a queued ``Job`` (committed, so a client can poll it at once) and run the
    named task (``workers.task``) on ``settings.background_executor`` without waiting.
    The task receives ``job_id`` in its payload and reports through
    ``JobProgress(..., job_id=...)``; if it raises, the job is marked failed here."""
    now = SystemClock().now()
    job = Job(kind=kind, description=description[:300], status="queued", total=None, done=0,
              started_at=now, updated_at=now)
    session.add(job)
    session.commit()
    work = threading.Thread(target=_run_job, args=(settings, task_name,
                                                    {**payload, "job_id": job.id}),
                            name=f"job-{job.id}", daemon=True)
    work.start()
    return job


def _run_job(settings: Settings, task_name: str, payload: dict[str, Any]) -> None:
    from mobilise.workers import open_executor

    try:
        [result] = open_executor(settings.background_executor, settings).run_all(
            task_name, [payload])
        error = result.error
    except Exception as exc:  # noqa: BLE001 - the job row is where the caller looks
        error = f"{type(exc).__name__}: {exc}"
    if error is not None:
        with session_scope(settings) as s:
            job = s.get(Job, payload["job_id"])
            if job is not None:
                job.status, job.message = "failed", error[:2000]
                job.updated_at = SystemClock().now()
