"""The live status page of long work; ``/static/live.js`` keeps it current."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from mobilise.core.actor import Actor, Role
from mobilise.core.jobs import job_row, recent_jobs
from mobilise.web.auth import db, requires
from mobilise.web.pages.render import page

router = APIRouter(include_in_schema=False)


@router.get("/jobs")
def jobs(request: Request, session: Session = Depends(db, scope="function"),
         _: Actor = Depends(requires(Role.VIEWER))) -> HTMLResponse:
    return page(request, "jobs.html", jobs=[job_row(j) for j in recent_jobs(session)])
