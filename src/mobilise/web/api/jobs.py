"""``/api/v1/jobs``: live status of long work (scans, migrations, imports, syncs)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from mobilise.core.actor import Actor, Role
from mobilise.core.errors import NotFound
from mobilise.core.jobs import job_row, recent_jobs
from mobilise.core.progress import Job
from mobilise.web.auth import db, requires
from mobilise.web.params import RecordId

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])


@router.get("")
def list_jobs(
    kind: str | None = Query(None, max_length=50),
    active: bool = False,
    limit: int = Query(50, ge=1, le=500),
    session: Session = Depends(db, scope="function"),
    _: Actor = Depends(requires(Role.VIEWER)),
) -> dict[str, Any]:
    return {"items": [job_row(j) for j in recent_jobs(session, kind=kind, active=active,
                                                        limit=limit)]}


@router.get("/{job_id}")
def show_job(job_id: RecordId, session: Session = Depends(db, scope="function"),
             _: Actor = Depends(requires(Role.VIEWER))) -> dict[str, Any]:
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"no job {job_id}")
    return job_row(job)
