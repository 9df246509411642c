"""``/api/v1/waves/{key}/lifecycle``: each migrated person's H: drive after cutover (grace
with sweeps, read-only, archived, released), the Known Folder Move group, and
``/api/v1/migration/storage-released``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from mobilise.core.actor import Actor, Role
from mobilise.core.errors import Conflict
from mobilise.migration import after, waves
from mobilise.migration.launch import start_sweep
from mobilise.web.auth import db, requires
from mobilise.workers.background import job_payload

router = APIRouter(tags=["migration"])


class AdvanceIn(BaseModel):
    reason: str | None = Field(None, max_length=2000,
                               description="why the step is taken before it is due")


class SignOffIn(BaseModel):
    note: str = Field(..., min_length=1, max_length=2000, description="what was checked")


class ReleaseIn(BaseModel):
    people: list[str] = Field(default_factory=list, max_length=50_000)


@router.get("/api/v1/waves/{key}/lifecycle")
def show(key: str, session: Session = Depends(db, scope="function"),
         _: Actor = Depends(requires(Role.VIEWER))) -> list[dict[str, Any]]:
    return after.view_rows(session, waves.get_wave(session, key))


@router.post("/api/v1/waves/{key}/lifecycle/{person}/advance")
def advance(key: str, person: str, request: Request, body: AdvanceIn | None = None,
            session: Session = Depends(db, scope="function"),
            actor: Actor = Depends(requires(Role.MIGRATION))) -> dict[str, Any]:
    """Take the person's next step (its hook first, where it has one); 409 with the reason
    when it is refused or its hook fails (the step is then not recorded)."""
    result = after.advance(session, actor, request.app.state.settings,
                           waves.get_wave(session, key), people=[person],
                           reason=(body or AdvanceIn()).reason)[0]
    if not result.done:
        raise Conflict(f"{result.person}: {result.step} not done: {result.reason}")
    return result.as_json()


@router.post("/api/v1/waves/{key}/lifecycle/sweep", status_code=202)
def sweep(key: str, request: Request, response: Response,
          session: Session = Depends(db, scope="function"),
          actor: Actor = Depends(requires(Role.MIGRATION))) -> dict[str, Any]:
    """Start a sweep round over the people in grace as a background job (late files are
    copied and their owners told): 202 with the ``Job``; poll ``GET /api/v1/jobs/{id}``
    (its stats name the ``round`` and the ``late`` files per person when done) or the
    wave's ``/progress``. 422 when nobody is in grace, 409 while a round or sweep of the
    wave runs."""
    wave = waves.get_wave(session, key)
    job = start_sweep(request.app.state.sessions, actor, request.app.state.settings, wave)
    response.headers["Location"] = f"/api/v1/jobs/{job.id}"
    return job_payload(job, progress=f"/api/v1/waves/{wave.id}/progress")


@router.post("/api/v1/waves/{key}/lifecycle/{person}/sign-off")
def sign_off(key: str, person: str, body: SignOffIn,
             session: Session = Depends(db, scope="function"),
             actor: Actor = Depends(requires(Role.VIEWER))) -> dict[str, Any]:
    """The data owner (signed in as themselves) or a records manager agrees the release."""
    row = after.sign_off(session, actor, waves.get_wave(session, key), person, body.note)
    return after.row_json(row)


@router.post("/api/v1/waves/{key}/lifecycle/release", status_code=201)
def release(key: str, request: Request, body: ReleaseIn | None = None,
            session: Session = Depends(db, scope="function"),
            actor: Actor = Depends(requires(Role.RECORDS))) -> dict[str, Any]:
    """Propose the disposal batch of the archived, signed-off drives (approved by another
    records manager, executed, certified under /api/v1/retention/disposal-batches)."""
    batch = after.propose_release(session, actor, request.app.state.settings,
                                  waves.get_wave(session, key),
                                  people=(body or ReleaseIn()).people)
    return {"batch": batch.id, "status": batch.status, "files": len(batch.items),
            "bytes": sum(i.size for i in batch.items)}


@router.post("/api/v1/waves/{key}/lifecycle/kfm")
def kfm(key: str, request: Request, session: Session = Depends(db, scope="function"),
        actor: Actor = Depends(requires(Role.MIGRATION))) -> list[dict[str, Any]]:
    """Add the wave's people whose cutover is complete to the Known Folder Move group."""
    from mobilise.graph import GraphClient
    settings = request.app.state.settings
    wave = waves.get_wave(session, key)
    after.kfm_group(settings)
    with GraphClient(settings) as client:
        return [r.as_json() for r in after.add_to_kfm_group(session, actor, settings, wave,
                                                             client)]


@router.get("/api/v1/waves/{key}/lifecycle/kfm.csv", response_class=PlainTextResponse)
def kfm_csv(key: str, request: Request, session: Session = Depends(db, scope="function"),
            actor: Actor = Depends(requires(Role.MIGRATION))) -> PlainTextResponse:
    text = after.kfm_membership_csv(session, actor, request.app.state.settings,
                                    waves.get_wave(session, key))
    return PlainTextResponse(text, media_type="text/csv")


@router.get("/api/v1/migration/storage-released")
def storage_released(session: Session = Depends(db, scope="function"),
                     _: Actor = Depends(requires(Role.VIEWER))) -> dict[str, Any]:
    """Storage released on Isilon per wave and in total, against the first-scan estate."""
    return after.storage_released(session).as_json()
