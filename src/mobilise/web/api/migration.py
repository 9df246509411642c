"""``/api/v1/waves`` and ``/api/v1/migration``: waves, rounds, people's migration state,
per-person file reports and the SPMT-style summaries."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from mobilise.core.actor import Actor, Role
from mobilise.migration import reports, waves
from mobilise.web.auth import db, requires

router = APIRouter(tags=["migration"])


class WaveIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    org_units: list[str] = Field(default_factory=list, max_length=500)
    sites: list[str] = Field(default_factory=list, max_length=500)
    people: list[str] = Field(default_factory=list, max_length=50_000)
    delta_rounds: int = Field(1, ge=0, le=20)
    description: str | None = Field(None, max_length=2000)


@router.get("/api/v1/waves")
def list_waves(session: Session = Depends(db),
               _: Actor = Depends(requires(Role.VIEWER))) -> list[dict[str, Any]]:
    return [reports.wave_summary(session, w) for w in waves.list_waves(session)]


@router.post("/api/v1/waves", status_code=201)
def create_wave(body: WaveIn, session: Session = Depends(db),
                actor: Actor = Depends(requires(Role.MIGRATION))) -> dict[str, Any]:
    selection = waves.WaveSelection(org_units=body.org_units, sites=body.sites,
                                    people=body.people)
    wave = waves.create_wave(session, actor, body.name, selection,
                             delta_rounds=body.delta_rounds, description=body.description)
    session.commit()
    return reports.wave_summary(session, wave)


@router.get("/api/v1/waves/{key}")
def show_wave(key: str, session: Session = Depends(db),
              _: Actor = Depends(requires(Role.VIEWER))) -> dict[str, Any]:
    wave = waves.get_wave(session, key)
    return {**reports.wave_summary(session, wave), "people": reports.wave_rows(session, wave)}


@router.get("/api/v1/migration/waves/{key}/summary")
def wave_summary_report(key: str, request: Request, session: Session = Depends(db),
                        _: Actor = Depends(requires(Role.VIEWER))) -> list[dict[str, Any]]:
    """SummaryReport.csv's rows, one per person."""
    return reports.summary_report(session, request.app.state.settings,
                                  waves.get_wave(session, key))


@router.get("/api/v1/migration/waves/{key}/failures")
def wave_failures(key: str, request: Request, session: Session = Depends(db),
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
