"""``/api/v1/waves`` and ``/api/v1/migration``: waves, rounds, people's migration state,
per-person file reports and the SPMT-style summaries."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from mobilise.core.actor import Actor, Role
from mobilise.core.clock import SystemClock
from mobilise.core.errors import NotFound
from mobilise.migration import reports, waves
from mobilise.migration.burndown import burndown
from mobilise.migration.launch import start_notices, start_round
from mobilise.migration.models import MigrationWave
from mobilise.migration.notices import Stage
from mobilise.migration.progress import live_round
from mobilise.web.auth import db, requires
from mobilise.web.params import column_field
from mobilise.workers.background import job_payload

router = APIRouter(tags=["migration"])


class WaveIn(BaseModel):
    name: str = column_field(MigrationWave.name, min_length=1)
    org_units: list[str] = Field(default_factory=list, max_length=500)
    sites: list[str] = Field(default_factory=list, max_length=500)
    people: list[str] = Field(default_factory=list, max_length=50_000)
    delta_rounds: int = Field(1, ge=0, le=20)
    schedule: list[datetime | None] = Field(default_factory=list, max_length=22)
    description: str | None = Field(None, max_length=2000)

    def selection(self) -> waves.WaveSelection:
        return waves.WaveSelection(org_units=self.org_units, sites=self.sites,
                                   people=self.people)

    def create(self, session: Session, actor: Actor) -> MigrationWave:
        """The wave, as the API and the waves page's form both create it."""
        return waves.create_wave(session, actor, self.name, self.selection(),
                                 delta_rounds=self.delta_rounds, schedule=self.schedule,
                                 description=self.description or None)


@router.get("/api/v1/waves")
def list_waves(session: Session = Depends(db, scope="function"),
               _: Actor = Depends(requires(Role.VIEWER))) -> list[dict[str, Any]]:
    return [reports.wave_summary(session, w) for w in waves.list_waves(session)]


@router.post("/api/v1/waves", status_code=201)
def create_wave(body: WaveIn, session: Session = Depends(db, scope="function"),
                actor: Actor = Depends(requires(Role.MIGRATION))) -> dict[str, Any]:
    wave = body.create(session, actor)
    session.commit()
    return reports.wave_summary(session, wave)


@router.get("/api/v1/waves/{key}")
def show_wave(key: str, session: Session = Depends(db, scope="function"),
              _: Actor = Depends(requires(Role.VIEWER))) -> dict[str, Any]:
    wave = waves.get_wave(session, key)
    return {**reports.wave_summary(session, wave), "people": reports.wave_rows(session, wave)}


class RoundStartIn(BaseModel):
    number: int | None = Field(None, ge=1, le=1000, description="round number (default: next)")
    executor: str = Field("inprocess", pattern="^(inprocess|processes|celery)$")
    workers: int = Field(4, ge=1, le=64, description="inprocess/processes: shards at once")


@router.post("/api/v1/waves/{key}/rounds", status_code=202)
def start_wave_round(key: str, request: Request, response: Response,
                     body: RoundStartIn | None = None,
                     session: Session = Depends(db, scope="function"),
                     actor: Actor = Depends(requires(Role.MIGRATION))) -> dict[str, Any]:
    """Start the wave's next pre-seed or delta round in the background: 202 with the
    ``Job`` that reports its progress (``GET /api/v1/jobs/{id}``, and the wave's
    ``/progress``)."""
    body = body or RoundStartIn()
    wave = waves.get_wave(session, key)
    job = start_round(request.app.state.sessions, actor, request.app.state.settings, wave,
                      number=body.number, executor=body.executor, workers=body.workers)
    response.headers["Location"] = f"/api/v1/jobs/{job.id}"
    return job_payload(job, progress=f"/api/v1/waves/{wave.id}/progress")


class NotifyIn(BaseModel):
    stage: Stage = Field(description="announcement, readiness, cutover or completion")


@router.post("/api/v1/waves/{key}/notify", status_code=202)
def notify_wave(key: str, body: NotifyIn, request: Request, response: Response,
                session: Session = Depends(db, scope="function"),
                actor: Actor = Depends(requires(Role.MIGRATION))) -> dict[str, Any]:
    """Start queueing the stage's message to each person of the wave who has not had it,
    as a background job (a readiness report takes most of a second a person): 202 with
    the ``Job``; poll ``GET /api/v1/jobs/{id}``, whose stats say, when done, how many
    were queued now (``queued``), before (``already``), and who was not due one and why
    (``skipped``). 409 while the same stage of the wave is being queued."""
    wave = waves.get_wave(session, key)
    job = start_notices(request.app.state.sessions, actor, request.app.state.settings, wave,
                        body.stage)
    response.headers["Location"] = f"/api/v1/jobs/{job.id}"
    return job_payload(job)


@router.get("/api/v1/waves/{key}/progress")
def wave_progress(key: str, session: Session = Depends(db, scope="function"),
                  _: Actor = Depends(requires(Role.VIEWER))) -> dict[str, Any]:
    """The latest round's live progress (files, bytes, files/s, MB/s, ETA, throttling and
    the throughput series), and every round's totals; the wave page polls this."""
    wave = waves.get_wave(session, key)
    return {"wave": wave.name, "live": live_round(session, wave.id),
            "rounds": reports.wave_summary(session, wave)["rounds"]}


@router.get("/api/v1/migration/waves/{key}/summary")
def wave_summary_report(key: str, request: Request,
                        session: Session = Depends(db, scope="function"),
                        _: Actor = Depends(requires(Role.VIEWER))) -> list[dict[str, Any]]:
    """SummaryReport.csv's rows, one per person."""
    return reports.summary_report(session, request.app.state.settings,
                                  waves.get_wave(session, key))


@router.get("/api/v1/migration/waves/{key}/failures")
def wave_failures(key: str, request: Request, session: Session = Depends(db, scope="function"),
                  _: Actor = Depends(requires(Role.VIEWER))) -> list[dict[str, Any]]:
    """FailureSummary.csv's rows, one per file that did not move."""
    return reports.failure_summary(session, request.app.state.settings,
                                   waves.get_wave(session, key))


@router.get("/api/v1/migration/people/{number}")
def person_files(number: str, request: Request,
                 _: Actor = Depends(requires(Role.MIGRATION))) -> dict[str, Any]:
    """Every file's latest outcome for one person, and the totals."""
    found = reports.person_report(request.app.state.settings, number)
    return {"number": number, "summary": found.summary(),
            "renamed": [{"from": a, "to": b} for a, b in found.renamed],
            "files": found.rows()}


@router.get("/api/v1/migration/burndown")
def migration_burndown(as_of: date | None = None, org_unit: str | None = None,
                       recent_weeks: int = Query(4, ge=1, le=52),
                       session: Session = Depends(db, scope="function"),
                       _: Actor = Depends(requires(Role.VIEWER))) -> dict[str, Any]:
    """People migrated by week: planned, actual and forecast, for everyone or one unit."""
    day = as_of or SystemClock().now().date()
    result = burndown(session, day, recent_weeks)
    if org_unit and org_unit not in result.people:
        raise NotFound(f"no one from org unit {org_unit!r} is in a wave")
    finish = result.finish_week()
    return {"as_of": day.isoformat(), "people": result.people, "rate": result.rate,
            "forecast_finish": finish.isoformat() if finish else None,
            "weeks": result.rows(org_unit)}
