"""``/api/v1/rollout``: plan, appointments, stock, forecast and risks."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from mobilise.core.actor import Actor, Role
from mobilise.core.clock import Clock, FixedClock, SystemClock
from mobilise.core.settings import Settings
from mobilise.people.register import get_person
from mobilise.rollout import appointments as appts
from mobilise.rollout import reports, stock
from mobilise.rollout.calendar import working_days_after
from mobilise.rollout.notices import Notice, appointment_calendar, queue_notices
from mobilise.rollout.planner import plan_rollout
from mobilise.rollout.planning import PlanOptions, RolloutRecords, gather_input, replan
from mobilise.web.auth import db, requires
from mobilise.web.params import RecordId

router = APIRouter(prefix="/api/v1/rollout", tags=["rollout"])
# Appointments say who is where and when (and, through the model booked, hint at
# adjustments): the service desk and the programme, who run them, read them.
OPERATE = (Role.SERVICE_DESK, Role.PROGRAMME)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _clock(as_of: date | None) -> Clock:
    return FixedClock(datetime.combine(as_of, time(12), UTC)) if as_of else SystemClock()


def _records(settings: Settings, staged: int = 0) -> RolloutRecords:
    return RolloutRecords(staged=staged, managed_before=settings.rollout_managed_before)


class PlanRequest(BaseModel):
    start: date | None = None
    deadline: date | None = None
    staging_per_day: int | None = Field(None, ge=0, le=1_000_000)
    slots: int | None = Field(None, ge=0, le=100_000)
    priority: list[str] | None = Field(None, max_length=50)
    staged_on_hand: int = Field(0, ge=0, le=10_000_000)
    as_of: date | None = None


def _options(settings: Settings, body: PlanRequest) -> PlanOptions:
    start = body.start or working_days_after(
        _clock(body.as_of).today() + timedelta(days=1), 1)[0]
    return PlanOptions.from_settings(
        settings, start, deadline=body.deadline, staging_per_day=body.staging_per_day,
        default_slots=body.slots, priority=tuple(body.priority) if body.priority else None)


def _plan_out(plan: Any) -> dict[str, Any]:
    return {"summary": plan.summary(),
            "staging": [asdict(d) for d in plan.staging],
            "waves": [asdict(w) for w in plan.waves],
            "unplaceable": [asdict(u) for u in plan.unplaceable]}


@router.get("/plan")
def preview_plan(request: Request, start: date | None = None, deadline: date | None = None,
                 staging_per_day: int | None = Query(None, ge=0, le=1_000_000),
                 slots: int | None = Query(None, ge=0, le=100_000),
                 staged_on_hand: int = Query(0, ge=0, le=10_000_000),
                 session: Session = Depends(db, scope="function"),
                 _: Actor = Depends(requires(Role.PROGRAMME))) -> dict[str, Any]:
    """The plan as it would be now; books nothing."""
    settings = _settings(request)
    body = PlanRequest(start=start, deadline=deadline, staging_per_day=staging_per_day,
                       slots=slots, staged_on_hand=staged_on_hand)
    gathered = gather_input(session, _records(settings, staged_on_hand),
                            _options(settings, body))
    return _plan_out(plan_rollout(gathered.input))


@router.post("/plan")
def apply_plan(request: Request, body: PlanRequest,
               session: Session = Depends(db, scope="function"),
               actor: Actor = Depends(requires(Role.PROGRAMME))) -> dict[str, Any]:
    """Plan and book: booked appointments may move, confirmed ones stay."""
    settings = _settings(request)
    plan, applied = replan(session, actor, _records(settings, body.staged_on_hand),
                           _options(settings, body), _clock(body.as_of))
    return {**_plan_out(plan), "applied": asdict(applied)}


@router.get("/appointments")
def list_appointments(day: date | None = None, site: str | None = Query(None, max_length=30),
                      status: str | None = Query(None, max_length=12),
                      person: str | None = Query(None, max_length=30),
                      limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0),
                      session: Session = Depends(db, scope="function"),
                      _: Actor = Depends(requires(*OPERATE))) -> dict[str, Any]:
    rows, total = reports.appointment_rows(session, day=day, site=site, status=status,
                                           person=person, limit=limit, offset=offset)
    return {"items": rows, "total": total, "limit": limit, "offset": offset}


class BookRequest(BaseModel):
    person: str = Field(..., max_length=200)
    site: str = Field(..., max_length=30)
    day: date


@router.post("/appointments", status_code=201)
def book(body: BookRequest, session: Session = Depends(db, scope="function"),
         actor: Actor = Depends(requires(*OPERATE))) -> dict[str, Any]:
    person = get_person(session, body.person)
    a = appts.book(session, actor, person.id, stock.get_site(session, body.site).id, body.day)
    return _appointment(session, a.id)


def _appointment(session: Session, appointment_id: RecordId) -> dict[str, Any]:
    a = appts.get_appointment(session, appointment_id)
    return {"id": a.id, "person": a.person.number, "site": a.site.code, "day": a.day,
            "status": a.status, "replaces_id": a.replaces_id, "note": a.note}


@router.get("/appointments/{appointment_id}")
def show_appointment(appointment_id: RecordId, session: Session = Depends(db, scope="function"),
                     _: Actor = Depends(requires(*OPERATE))) -> dict[str, Any]:
    return _appointment(session, appointment_id)


@router.get("/appointments/{appointment_id}/ics")
def appointment_ics(request: Request, appointment_id: RecordId,
                    session: Session = Depends(db, scope="function"),
                    _: Actor = Depends(requires(*OPERATE))) -> Response:
    text = appointment_calendar(appts.get_appointment(session, appointment_id),
                                _settings(request), SystemClock())
    return Response(text, media_type="text/calendar; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="appointment-{appointment_id}.ics"'})


class TransitionRequest(BaseModel):
    ids: list[int] = Field(..., min_length=1, max_length=10_000)
    reason: str | None = Field(None, max_length=1000)


@router.post("/appointments/{action}")
def transition(action: str, body: TransitionRequest,
               session: Session = Depends(db, scope="function"),
               actor: Actor = Depends(requires(*OPERATE))) -> dict[str, Any]:
    """confirm, attend (only with a hand-over in the register), attend_not_issued (with
    the reason), no_show or cancel many appointments, all or none."""
    done = appts.transition(session, actor, action.replace("-", "_"),
                            [appts.get_appointment(session, i) for i in body.ids],
                            reason=body.reason)
    return {"action": action, "count": len(done), "ids": [a.id for a in done]}


class RescheduleRequest(BaseModel):
    site: str = Field(..., max_length=30)
    day: date
    reason: str | None = Field(None, max_length=1000)


@router.post("/appointments/{appointment_id}/reschedule")
def reschedule(appointment_id: RecordId, body: RescheduleRequest,
               session: Session = Depends(db, scope="function"),
               actor: Actor = Depends(requires(*OPERATE))) -> dict[str, Any]:
    new = appts.reschedule(session, actor, appts.get_appointment(session, appointment_id),
                           stock.get_site(session, body.site).id, body.day, reason=body.reason)
    return _appointment(session, new.id)


class NotifyRequest(BaseModel):
    kind: Notice
    days_ahead: int = Field(2, ge=0, le=60)
    as_of: date | None = None


@router.post("/notify")
def notify(request: Request, body: NotifyRequest, session: Session = Depends(db, scope="function"),
           _: Actor = Depends(requires(Role.PROGRAMME))) -> dict[str, Any]:
    n = queue_notices(session, _settings(request), body.kind, _clock(body.as_of),
                      days_ahead=body.days_ahead)
    return {"kind": body.kind.value, "queued": n}


@router.get("/forecast")
def forecast(request: Request, as_of: date | None = None,
             org_unit: str | None = Query(None, max_length=30),
             session: Session = Depends(db, scope="function"),
             _: Actor = Depends(requires(Role.VIEWER))) -> dict[str, Any]:
    settings = _settings(request)
    clock = _clock(as_of)
    fc = reports.forecast(session, _records(settings), settings, clock, org_unit)
    return {"summary": fc.summary(), "weeks": fc.weeks,
            "by_org_unit": reports.by_org_unit(session, _records(settings)),
            "risks": [asdict(r) for r in reports.risks(session, _records(settings), settings,
                                                       clock)]}


@router.get("/capacity")
def capacity(day_from: date | None = None, day_to: date | None = None,
             session: Session = Depends(db, scope="function"),
             _: Actor = Depends(requires(Role.VIEWER))) -> dict[str, Any]:
    """Places per site and day (default: the next two weeks)."""
    first = day_from or SystemClock().today()
    return {"items": reports.capacity_rows(session, first,
                                           day_to or first + timedelta(days=13))}


class DeliveryRequest(BaseModel):
    expected_on: date
    quantity: int = Field(..., gt=0, le=1_000_000)
    reference: str = Field("", max_length=100)
    model: str = Field("", max_length=60, description="alternative model; '' standard")


@router.get("/stock")
def list_stock(session: Session = Depends(db, scope="function"),
               _: Actor = Depends(requires(Role.VIEWER))) -> dict[str, Any]:
    return {"items": [{c: getattr(d, c) for c in stock.DELIVERY_COLUMNS}
                      for d in stock.deliveries(session)]}


@router.post("/stock", status_code=201)
def add_stock(body: DeliveryRequest, session: Session = Depends(db, scope="function"),
              actor: Actor = Depends(requires(Role.PROGRAMME))) -> dict[str, Any]:
    d = stock.add_delivery(session, actor, body.expected_on, body.quantity, body.reference,
                           body.model)
    return {c: getattr(d, c) for c in stock.DELIVERY_COLUMNS}
