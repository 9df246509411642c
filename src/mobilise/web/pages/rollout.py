"""The rollout page (burndown, org units, risks, waves, capacity) and the comms page."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy.orm import Session

from mobilise.comms import outbox, templates
from mobilise.comms.models import MessageStatus
from mobilise.core.actor import Actor, Role
from mobilise.core.clock import Clock, FixedClock, SystemClock
from mobilise.core.errors import InvalidInput
from mobilise.core.readcache import aggregates
from mobilise.core.settings import Settings
from mobilise.rollout import appointments as appts
from mobilise.rollout import reports
from mobilise.rollout.planning import RolloutRecords
from mobilise.web.auth import db, requires
from mobilise.web.charts import bar_chart, line_chart
from mobilise.web.pages.render import form_fields, page
from mobilise.web.params import PageNo, Pager, RecordId

router = APIRouter(include_in_schema=False)


def _clock(as_of: date | None) -> Clock:
    return FixedClock(datetime.combine(as_of, time(12), UTC)) if as_of else SystemClock()


@router.get("/rollout")
def rollout(request: Request, as_of: date | None = None,
            org_unit: str | None = Query(None, max_length=30),
            view: str = Query("programme", pattern="^(programme|all)$"),
            appointments_page: int = PageNo,
            session: Session = Depends(db, scope="function"),
            _: Actor = Depends(requires(Role.VIEWER))) -> HTMLResponse:
    settings = request.app.state.settings
    clock = _clock(as_of)
    today = clock.today()
    fc, units, risks, burndown, remaining = rollout_aggregates(session, settings, clock,
                                                              org_unit, view=view)
    capacity = reports.capacity_rows(session, today, today + timedelta(days=13))
    actor: Actor = request.state.actor
    upcoming: list[dict[str, Any]] = []
    total = 0
    if actor.has_any(OPERATE):  # who is booked where and when: not for every role
        upcoming, total = reports.appointment_rows(session, status="booked", limit=50,
                                                   offset=(appointments_page - 1) * 50)
    back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return page(request, "rollout.html", fc=fc, can_operate=actor.has_any(OPERATE),
                actions=PAGE_ACTIONS, back=back, summary=fc.summary(), view=view,
                weeks=fc.weeks if view == "all" else reports.programme_weeks(session, settings,
                                                                             fc),
                units=units, risks=risks,
                burndown=burndown, remaining=remaining, plan=reports.latest_plan(session),
                capacity=capacity, upcoming=upcoming, upcoming_total=total,
                as_of=as_of.isoformat() if as_of else "", org_unit=org_unit or "",
                pager=Pager.of(appointments_page, 50, total, as_of=as_of or "",
                               org_unit=org_unit or ""))


def rollout_aggregates(session: Session, settings: Settings, clock: Clock | None = None,
                       org_unit: str | None = None, *, fresh: bool = False,
                       view: str = "programme"
                       ) -> tuple[Any, list[dict[str, Any]], list[Any], Markup, Markup]:
    """The forecast, the org units and the risks read the whole register: computed once
    per audited change (and day, org unit, view and configuration) for every reader. The
    burndown charts the programme's own dates, or with ``view="all"`` every week."""
    clock = clock or SystemClock()
    return aggregates.get(session, "rollout", (clock.today(), org_unit, view,
                                               settings.model_dump_json()),
                          lambda: _aggregates(session, settings, clock, org_unit, view),
                          stale=0 if fresh else settings.web_aggregates_stale_seconds)


def _aggregates(session: Session, settings: Settings, clock: Clock, org_unit: str | None,
                view: str = "programme"
                ) -> tuple[Any, list[dict[str, Any]], list[Any], Markup, Markup]:
    records = RolloutRecords(managed_before=settings.rollout_managed_before)
    fc = reports.forecast(session, records, settings, clock, org_unit or None)
    units = reports.by_org_unit(session, records)
    weeks = fc.weeks if view == "all" else reports.programme_weeks(session, settings, fc)
    series = {name: [w.get(key) for w in weeks] for name, key in (
        ("Planned", "planned"), ("Re-planned", "replanned"), ("Issued", "actual"),
        ("Forecast", "forecast"))}
    burndown = line_chart("Handsets issued, cumulative by week"
                          + (f": {org_unit}" if org_unit else ""), [w["week"] for w in weeks],
                          {k: v for k, v in series.items() if any(x is not None for x in v)},
                          table=False)  # the page's own tables hold these figures
    remaining = bar_chart("People still without a handset, by org unit",
                          [(u["org_unit"], u["remaining"]) for u in units],
                          link="/people?org_unit={}", table=False)
    return fc, units, reports.risks(session, records, settings, clock), burndown, remaining


# "Handed over" is the hand-over form (/handover), which attends the appointment itself;
# "attend" is still taken here for a hand-over already in the register (its guard says so).
PAGE_ACTIONS = {"confirm": "Confirm", "attend_not_issued": "Attended, not issued",
                "no_show": "Did not attend"}
ACCEPTED = frozenset({*PAGE_ACTIONS, "attend"})
OPERATE = frozenset({Role.SERVICE_DESK, Role.PROGRAMME})


@router.post("/rollout/appointments/{appointment_id}/{action}")
def appointment_action(request: Request, appointment_id: RecordId, action: str,
                       session: Session = Depends(db, scope="function"),
                       actor: Actor = Depends(requires(*OPERATE)),
                       form: dict[str, str] = Depends(form_fields)) -> Response:
    """The service desk's buttons: confirm, attended but not issued (with the reason), did
    not attend. (The role guard checks the CSRF token of a signed-in session.)"""
    if action not in ACCEPTED:
        raise InvalidInput(f"unknown action {action!r}")
    reason = str(form.get("reason") or "") or None
    appts.transition(session, actor, action,
                     [appts.get_appointment(session, appointment_id)], reason=reason)
    back = str(form.get("back") or "/rollout")
    return RedirectResponse(back if back.startswith("/rollout") else "/rollout",
                            status_code=303)


OUTBOX_PAGE = 50  # messages listed per page of the outbox


@router.get("/comms")
def comms(request: Request, status: str = Query("", max_length=20),
          template: str = Query("", max_length=100), page_no: int = PageNo,
          session: Session = Depends(db, scope="function"),
          actor: Actor = Depends(requires(Role.VIEWER))) -> HTMLResponse:
    """The outbox's counts, its messages a page at a time (by status and template), and
    the templates."""
    if status and status not in {s.value for s in MessageStatus}:
        raise InvalidInput(f"{status!r} is not a message status")
    shown = templates.list_templates(session)
    # Who is sent what (appointment notices) is for the roles that run appointments.
    messages, pager = None, None
    if actor.has_any(OPERATE):
        total = outbox.count_outbox(session, status or None, template or None)
        pager = Pager.of(page_no, OUTBOX_PAGE, total, status=status, template=template)
        messages = outbox.outbox_rows(session, status or None, template or None,
                                      limit=OUTBOX_PAGE, offset=pager.offset)
    return page(request, "comms.html", templates=shown, counts=outbox.counts(session),
                messages=messages, pager=pager, status=status, chosen_template=template,
                statuses=[s.value for s in MessageStatus],
                template_names=sorted({t.name for t in shown}))
