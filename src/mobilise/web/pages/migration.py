"""MigrationWave pages: the list of waves, and one wave with its rounds, throughput and people."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from mobilise.core.actor import Actor, Role
from mobilise.core.clock import SystemClock
from mobilise.core.db import integrity_conflict
from mobilise.core.errors import Conflict, InvalidInput, MobiliseError
from mobilise.core.jobs import started_job
from mobilise.core.words import label
from mobilise.migration import after, reports, waves
from mobilise.migration.burndown import ALL, burndown
from mobilise.migration.launch import (
    NOTICE_KIND,
    round_to_start,
    start_notices,
    start_round,
    start_sweep,
)
from mobilise.migration.models import DriveState, MigrationState, MigrationWave, RoundStatus
from mobilise.migration.notices import Stage, notice_counts
from mobilise.migration.progress import live_round
from mobilise.web.api.migration import WaveIn
from mobilise.web.auth import db, requires
from mobilise.web.charts import bar_chart, grouped_bar_chart, line_chart
from mobilise.web.pages.render import form_data, form_fields, page

router = APIRouter(include_in_schema=False)


# The create form's fields, in the order its error summary lists them.
WAVE_FIELDS = ("name", "description", "org_units", "sites", "people", "delta_rounds",
               "schedule")


def _wave_list(request: Request, session: Session, *, given: dict[str, Any] | None = None,
               errors: list[tuple[str, str]] | None = None,
               status_code: int = 200) -> HTMLResponse:
    rows = [reports.wave_summary(session, w) for w in waves.list_waves(session)]
    return page(request, "waves.html", status_code=status_code, waves=rows,
                may_create=request.state.actor.has_any(frozenset({Role.MIGRATION})),
                org_units=waves.org_unit_codes(session), sites=waves.site_codes(session),
                given=given or {"org_units": [], "sites": [], "delta_rounds": "1"},
                errors=errors or [])


@router.get("/waves")
def wave_list(request: Request, session: Session = Depends(db, scope="function"),
              _: Actor = Depends(requires(Role.VIEWER))) -> HTMLResponse:
    return _wave_list(request, session)


@router.post("/waves")
def create_wave_from_page(request: Request, session: Session = Depends(db, scope="function"),
                          actor: Actor = Depends(requires(Role.MIGRATION)),
                          form: FormData = Depends(form_data)) -> Response:
    """The waves page's create form: the API's validation (``WaveIn``) and the CLI's
    reading of people and dates; a refusal shows the form again with what was typed."""
    given: dict[str, Any] = {f: str(form.get(f) or "")[:200_000] for f in WAVE_FIELDS}
    given["org_units"] = [str(v) for v in form.getlist("org_units")]
    given["sites"] = [str(v) for v in form.getlist("sites")]
    try:
        body = WaveIn(name=given["name"].strip(), org_units=given["org_units"],
                      sites=given["sites"], people=waves.split_keys(given["people"]),
                      delta_rounds=given["delta_rounds"].strip() or 1,
                      schedule=waves.parse_schedule(given["schedule"]),
                      description=given["description"].strip() or None)
        wave = body.create(session, actor)
        session.commit()  # the winner is known before the answer: a loser sees the form
    except ValidationError as err:
        return _wave_list(request, session, given=given, errors=_field_errors(err),
                          status_code=422)
    except (MobiliseError, IntegrityError) as err:
        session.rollback()
        refused = (integrity_conflict(session, err) if isinstance(err, IntegrityError)
                   else err)
        return _wave_list(request, session, given=given, status_code=refused.status,
                          errors=[(_field_of(refused.message), refused.message)])
    return RedirectResponse(f"/waves/{wave.id}?created=1", status_code=303)


def _field_errors(err: ValidationError) -> list[tuple[str, str]]:
    """(field, message) for each refused field, in words (not pydantic's locations)."""
    out = []
    for e in err.errors():
        field = str(e["loc"][0]) if e["loc"] else "name"
        words = WAVE_WORDS.get(field, field)
        out.append((field, f"{words}: {e['msg'][0].lower()}{e['msg'][1:]}"))
    return out


WAVE_WORDS = {"name": "Name", "description": "Description", "org_units": "Org units",
              "sites": "Sites", "people": "People", "delta_rounds": "Delta rounds",
              "schedule": "Round dates"}


def _field_of(message: str) -> str:
    """The form field a domain refusal is about, for the error summary's link."""
    for needle, field in (("selection", "org_units"), ("wave named", "name"),
                          ("name", "name"), ("date", "schedule"), ("delta", "delta_rounds"),
                          ("people", "people"), ("already in", "people")):
        if needle in message:
            return field
    return "org_units"


@router.get("/waves/{key}")
def wave_page(request: Request, key: str, job: int | None = Query(None, ge=1, le=2**31),
              session: Session = Depends(db, scope="function"),
              _: Actor = Depends(requires(Role.VIEWER))) -> HTMLResponse:
    wave = waves.get_wave(session, key)
    summary = reports.wave_summary(session, wave)
    rounds = summary["rounds"]
    labels = [f"{r['number']} {r['kind']}" for r in rounds]
    throughput = bar_chart("Throughput by round (MB/s)",
                           [(label, r["mb_per_s"] or 0.0) for label, r in zip(labels, rounds,
                                                                               strict=True)],
                           unit="MB/s", table=False)  # the rounds table holds these
    files = grouped_bar_chart("Files copied and throttling events by round", labels,
                              {"files copied": [r["copied"] for r in rounds],
                               "throttling events": [r["throttle_events"] for r in rounds]},
                              table=False)
    actor = request.state.actor
    created = request.query_params.get("created") == "1"
    live = live_round(session, wave.id)
    ran = [r for r in rounds if r["status"] != RoundStatus.PLANNED.value]
    return page(request, "wave.html", wave=summary, people=reports.wave_rows(session, wave),
                after_rows=after.view_rows(session, wave),
                may_advance=actor.has_any(frozenset({Role.MIGRATION})),
                may_sign_off=actor.has_any(frozenset({Role.RECORDS})),
                drive_colours={s.value: s.colour for s in DriveState},
                live=live, live_points=_points((live or {}).get("stats", {}).get("series")),
                latest=ran[-1] if ran else None, offer=start_offer(wave), created=created,
                may_start=actor.has_any(frozenset({Role.MIGRATION})),
                throughput=throughput, files_chart=files, stages=list(Stage),
                notice_counts=notice_counts(session, wave),
                job=started_job(session, job, NOTICE_KIND),
                state_colours={s.value: s.colour for s in MigrationState},
                round_colours={s.value: s.colour for s in RoundStatus})


@router.post("/waves/{key}/rounds")
def start_round_from_page(request: Request, key: str,
                          number: int | None = Form(None, ge=1, le=1000),
                          session: Session = Depends(db, scope="function"),
                          actor: Actor = Depends(requires(Role.MIGRATION))) -> Response:
    """The wave page's "start the next round" (or "retry round N") button (CSRF checked
    by the role guard)."""
    wave = waves.get_wave(session, key)
    job = start_round(request.app.state.sessions, actor, request.app.state.settings, wave,
                      number=number)
    return RedirectResponse(f"/waves/{wave.id}?started={job.id}#live-heading",
                            status_code=303)


@router.post("/waves/{key}/notify")
def notify_from_page(request: Request, key: str, form: dict[str, str] = Depends(form_fields),
                     session: Session = Depends(db, scope="function"),
                     actor: Actor = Depends(requires(Role.MIGRATION))) -> Response:
    """The wave page's "queue messages" buttons: one stage's message to each person who
    has not had it, queued in the background; the page then shows the job live, and how
    many were queued now and before once it is done."""
    wave = waves.get_wave(session, key)
    stage = form.get("stage", "")
    if stage not in {s.value for s in Stage}:
        raise InvalidInput(f"no stage {stage[:40]!r}: one of "
                           f"{', '.join(s.value for s in Stage)}")
    job = start_notices(request.app.state.sessions, actor, request.app.state.settings, wave,
                        stage)
    return RedirectResponse(f"/waves/{wave.id}?job={job.id}#job-h", status_code=303)


@router.post("/waves/{key}/lifecycle/sweep")
def sweep_from_page(request: Request, key: str, form: dict[str, str] = Depends(form_fields),
                    session: Session = Depends(db, scope="function"),
                    actor: Actor = Depends(requires(Role.MIGRATION))) -> Response:
    """The wave page's "sweep late files" button: a sweep round over the drives in grace,
    in the background; the page's live section shows it as it shows a round."""
    wave = waves.get_wave(session, key)
    job = start_sweep(request.app.state.sessions, actor, request.app.state.settings, wave)
    return RedirectResponse(f"/waves/{wave.id}?started={job.id}#live-heading",
                            status_code=303)


@router.post("/waves/{key}/lifecycle/{person}/advance")
def advance_from_page(request: Request, key: str, person: str,
                      form: dict[str, str] = Depends(form_fields),
                      session: Session = Depends(db, scope="function"),
                      actor: Actor = Depends(requires(Role.MIGRATION))) -> Response:
    """The wave page's "next step" button for one person's H: drive (its hook runs
    first); a refusal or a failed hook is shown with its reason."""
    wave = waves.get_wave(session, key)
    result = after.advance(session, actor, request.app.state.settings, wave, people=[person],
                           reason=form.get("reason", "").strip() or None)[0]
    if not result.done:
        raise Conflict(f"{result.person}: {label(result.step)} not done: {result.reason}")
    return RedirectResponse(f"/waves/{wave.id}#after-heading", status_code=303)


@router.post("/waves/{key}/lifecycle/{person}/sign-off")
def sign_off_from_page(request: Request, key: str, person: str,
                       form: dict[str, str] = Depends(form_fields),
                       session: Session = Depends(db, scope="function"),
                       actor: Actor = Depends(requires(Role.VIEWER))) -> Response:
    """A records manager (or the data owner) signs the drive's release off."""
    wave = waves.get_wave(session, key)
    after.sign_off(session, actor, wave, person, form.get("note", ""))
    return RedirectResponse(f"/waves/{wave.id}#after-heading", status_code=303)


def _points(series: list[list[float]] | None) -> dict[str, str]:
    """The live chart's two lines as SVG points, the same as ``wave-live.js`` draws them,
    so the page shows the chart as of its loading without JavaScript too."""
    if not series:
        return {"files": "", "mb": ""}
    last = series[-1][0] or 1.0
    out = {}
    for name, index in (("files", 1), ("mb", 2)):
        peak = max(max(p[index] for p in series), 1e-9)
        out[name] = " ".join(f"{40 + 550 * p[0] / last:.1f},{180 - 165 * p[index] / peak:.1f}"
                             for p in series)
    return out


@dataclass(frozen=True)
class StartOffer:
    """What the wave page's button would do, or why there is no button."""

    label: str | None = None     # "Start round 2 (delta)", "Retry round 1 (pre-seed)"
    number: int | None = None
    why_not: str | None = None   # shown where the button would be


def start_offer(wave: MigrationWave) -> StartOffer:
    try:
        round_ = round_to_start(wave)
    except MobiliseError as refused:
        return StartOffer(why_not=refused.message)
    verb = "Retry" if round_.status == RoundStatus.FAILED.value else "Start"
    return StartOffer(f"{verb} round {round_.number} ({label(round_.kind)})",
                      round_.number)


@router.get("/migration/progress")
def migration_progress(request: Request, as_of: date | None = None,
                       org_unit: str | None = None,
                       session: Session = Depends(db, scope="function"),
                       _: Actor = Depends(requires(Role.VIEWER))) -> HTMLResponse:
    """The burndown of people migrated: everyone, and one org unit when chosen."""
    day = as_of or SystemClock().now().date()
    result = burndown(session, day)
    unit = org_unit if org_unit in result.people else ALL
    left = result.people[unit]
    chart = line_chart(f"People left to migrate ({'everyone' if unit == ALL else unit})",
                       result.weeks,
                       {"planned": [left - p for p in result.planned[unit]],
                        "actual": [None if a is None else left - a
                                   for a in result.actual[unit]],
                        "forecast": result.forecast[unit]}, table=False)
    units = sorted(u for u in result.people if u != ALL)
    finish = result.finish_week(unit)
    return page(request, "migration_progress.html", chart=chart, rows=result.rows(unit),
                unit=unit, units=units, as_of=as_of.isoformat() if as_of else "",
                people=left, rate=round(result.rate[unit], 1),
                finish=finish.isoformat() if finish else None,
                migrated=next((a for a in reversed(result.actual[unit]) if a is not None), 0))
