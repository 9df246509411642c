"""Progress and forecast: the weekly burndown (planned, actual, and a forecast from the
recent rate), progress by org unit, and the risk flags. Shared by CLI, API and pages."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mobilise.core.clock import Clock
from mobilise.core.settings import Settings
from mobilise.devices.models import Handset, HandsetStatus
from mobilise.people.models import OrgUnit, Person, PersonStatus, Site
from mobilise.rollout.models import (
    LIVE,
    Appointment,
    IssueSlot,
    RolloutPlan,
    StockDelivery,
    Wave,
)
from mobilise.rollout.planning import HandsetRecords, handset_model

RECENT_WEEKS = 4


def week_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def latest_plan(session: Session) -> RolloutPlan | None:
    return session.scalar(select(RolloutPlan).order_by(RolloutPlan.id.desc()).limit(1))


@dataclass(frozen=True)
class Forecast:
    total: int
    issued: int
    remaining: int
    rate_per_week: float
    finish: date | None
    deadline: date
    weeks: list[dict[str, Any]]

    def summary(self) -> dict[str, Any]:
        return {"total": self.total, "issued": self.issued, "remaining": self.remaining,
                "rate_per_week": round(self.rate_per_week, 1),
                "forecast_finish": self.finish, "deadline": self.deadline,
                "deadline_at_risk": self.finish is None or self.finish > self.deadline}


def _people_to_serve(session: Session, records: HandsetRecords,
                     org_unit: str | None = None) -> tuple[int, int]:
    """(everyone the rollout is for, those who have their handset)."""
    stmt = select(Person.id).where(Person.status == PersonStatus.ACTIVE.value,
                                   Person.eligible.is_(True))
    if org_unit:
        stmt = stmt.join(OrgUnit, Person.org_unit_id == OrgUnit.id).where(
            OrgUnit.code == org_unit)
    eligible = set(session.scalars(stmt))
    served = records.people_with_handset(session) & eligible
    return len(eligible), len(served)


def handed_over_by_day(session: Session, org_unit: str | None = None,
                       until: date | None = None) -> list[tuple[date, int]]:
    """The one count of hand-overs, from the handset register: the eligible active people
    who hold an issued handset, by the day it was handed to them (their earliest, if an
    adjustment lets them hold two). The forecast, the org units' progress, the pages, the
    API and the board report all read it (or ``RolloutRecords.people_with_handset``, the
    same register), never the appointments."""
    stmt = (select(Handset.holder_id, func.min(Handset.issued_at))
            .join(Person, Person.id == Handset.holder_id)
            .where(Handset.status == HandsetStatus.ISSUED.value,
                   Person.status == PersonStatus.ACTIVE.value, Person.eligible.is_(True))
            .group_by(Handset.holder_id))
    if org_unit:
        stmt = stmt.join(OrgUnit, Person.org_unit_id == OrgUnit.id).where(
            OrgUnit.code == org_unit)
    by_day: dict[date, int] = defaultdict(int)
    for _, issued_at in session.execute(stmt):
        if issued_at is None:
            continue
        day = issued_at.date()
        if until is None or day <= until:
            by_day[day] += 1
    return sorted(by_day.items())


def forecast(session: Session, records: HandsetRecords, settings: Settings,
             clock: Clock, org_unit: str | None = None) -> Forecast:
    """Cumulative handsets issued per week, for everyone or one org unit: planned (the
    first plan and the latest re-plan, on top of what was issued before each), actual
    (hand-overs in the handset register) and forecast (the average of the last four whole
    weeks, carried forward from this week)."""
    today = clock.today()
    total, issued = _people_to_serve(session, records, org_unit)
    handed = handed_over_by_day(session, org_unit, until=today)
    actual_by_week: dict[date, int] = defaultdict(int)
    for day, n in handed:
        actual_by_week[week_of(day)] += n
    this_week = week_of(today)
    recent = sum(actual_by_week.get(this_week - timedelta(weeks=k), 0)
                 for k in range(1, RECENT_WEEKS + 1))
    rate = recent / RECENT_WEEKS
    remaining = total - issued
    finish = None
    if remaining <= 0:
        finish = today
    elif rate > 0:
        finish = this_week + timedelta(weeks=math.ceil(remaining / rate), days=4)
    plan = latest_plan(session)
    baseline = first_plan(session)
    deadline = plan.deadline if plan else settings.rollout_deadline
    series = {"planned": _curve(baseline, handed, org_unit),
              "replanned": _curve(plan, handed, org_unit) if plan is not None
              and baseline is not None and plan.id != baseline.id else {}}
    weeks = _weeks(actual_by_week, series, this_week, rate, issued, total, deadline, finish)
    return Forecast(total, issued, remaining, rate, finish, deadline, weeks)


PROGRAMME_WEEKS = 52  # without a plan, the programme is taken as the year to its deadline


def programme_weeks(session: Session, settings: Settings, fc: Forecast
                    ) -> list[dict[str, Any]]:
    """The forecast's weeks over the programme's own dates: from the first plan's start to
    the latest plan's deadline (without a plan, the settings' deadline and the year before
    it, from the first hand-over on). A register with handsets issued years before the
    programme, read on a day long after it, would otherwise chart every week between."""
    baseline = first_plan(session)
    end = week_of(fc.deadline)
    if baseline is not None:
        start = week_of(baseline.start)
    else:
        shown = [w["week"] for w in fc.weeks if w["actual"] or w["planned"]] or [end]
        start = max(min(shown), end - timedelta(weeks=PROGRAMME_WEEKS))
    weeks = [w for w in fc.weeks if start <= w["week"] <= end]
    return weeks or fc.weeks


def first_plan(session: Session) -> RolloutPlan | None:
    return session.scalar(select(RolloutPlan).order_by(RolloutPlan.id).limit(1))


def _curve(plan: RolloutPlan | None, handed: Sequence[Any],
           org_unit: str | None) -> dict[date, int]:
    """A plan's cumulative issued handsets by week, on top of those issued before it."""
    if plan is None:
        return {}
    by_week: dict[date, int] = defaultdict(int)
    planned = plan.planned_by_unit.get(org_unit, {}) if org_unit else plan.planned_by_day
    for iso, n in planned.items():
        by_week[week_of(date.fromisoformat(iso))] += int(n)
    total = sum(n for d, n in handed if d < plan.start)
    out = {}
    week = week_of(plan.start)
    last = max(by_week, default=week)
    while week <= last:
        total += by_week.get(week, 0)
        out[week] = total
        week += timedelta(weeks=1)
    return out


def _weeks(actual: dict[date, int], series: dict[str, dict[date, int]], this_week: date,
           rate: float, issued: int, total: int, deadline: date,
           finish: date | None) -> list[dict[str, Any]]:
    starts = [*actual, *(w for c in series.values() for w in c), this_week]
    first = min(starts)
    last = max([*starts, week_of(deadline), week_of(finish) if finish else this_week])
    last = min(last, first + timedelta(weeks=156))
    rows = []
    cum_actual = 0
    carried = {name: None for name in series}  # type: dict[str, int | None]
    week = first
    while week <= last:
        row: dict[str, Any] = {"week": week, "actual": None, "forecast": None}
        for name, curve in series.items():
            if week in curve:
                carried[name] = curve[week]
            row[name] = carried[name] if curve else None
        if week <= this_week:
            cum_actual += actual.get(week, 0)
            row["actual"] = cum_actual
        if week >= this_week:
            ahead = (week - this_week).days // 7
            row["forecast"] = min(total, round(issued + rate * ahead))
        rows.append(row)
        week += timedelta(weeks=1)
    return rows


def by_org_unit(session: Session, records: HandsetRecords) -> list[dict[str, Any]]:
    served = records.people_with_handset(session)
    people = session.execute(select(Person.id, Person.org_unit_id).where(
        Person.status == PersonStatus.ACTIVE.value, Person.eligible.is_(True))).all()
    totals: dict[int, int] = defaultdict(int)
    issued: dict[int, int] = defaultdict(int)
    for pid, unit_id in people:
        totals[unit_id] += 1
        issued[unit_id] += pid in served
    booked = defaultdict(int, {u: n for u, n in session.execute(
        select(Person.org_unit_id, func.count()).join(Appointment,
                                                      Appointment.person_id == Person.id)
        .where(Appointment.status.in_(LIVE)).group_by(Person.org_unit_id))})
    waves = {w.org_unit_id: w for w in session.scalars(select(Wave))}
    rows = []
    for unit in session.scalars(select(OrgUnit).order_by(OrgUnit.code)):
        if not totals.get(unit.id):
            continue
        wave = waves.get(unit.id)
        rows.append({"org_unit": unit.code, "name": unit.name, "people": totals[unit.id],
                     "issued": issued[unit.id], "booked": booked[unit.id],
                     "remaining": totals[unit.id] - issued[unit.id],
                     "wave_first_day": wave.first_day if wave else None,
                     "wave_last_day": wave.last_day if wave else None})
    return rows


@dataclass(frozen=True)
class Risk:
    flag: str
    level: str  # "red" or "amber"
    message: str


def risks(session: Session, records: HandsetRecords, settings: Settings,
          clock: Clock) -> list[Risk]:
    out: list[Risk] = []
    fc = forecast(session, records, settings, clock)
    overdue = session.scalar(select(func.count()).select_from(StockDelivery).where(
        StockDelivery.received_on.is_(None), StockDelivery.expected_on < clock.today())) or 0
    for model, need, have in _stock_by_model(session, records, settings):
        if have < need:
            what = f"{model} handsets" if model else "handsets"
            verb = "needs" if need == 1 else "need"
            out.append(Risk("stock_short", "red",
                            f"{people(need)} still {verb} {what} but only {have} are in "
                            f"stock or expected: {need - have} short"))
    if overdue:
        out.append(Risk("stock_late", "amber", f"{overdue} deliveries are overdue"))
    plan = latest_plan(session)
    if plan is not None and not plan.met:
        advice = ", ".join(f"{k.replace('_', ' ')} +{v}" for k, v in plan.advice.items()
                           if v is not None) or "no single change is enough"
        out.append(Risk("capacity_short", "red",
                        f"the plan ends {plan.last_day or 'never'} with "
                        f"{people(plan.people_late)} after the {plan.deadline} deadline; "
                        f"would meet it: {advice}"))
    managed = records.managed_devices(session) + fc.remaining
    if managed > settings.mdm_capacity:
        out.append(Risk("mdm_capacity", "red",
                        f"{managed:,} managed devices at the end of the rollout exceed the "
                        f"MDM capacity of {settings.mdm_capacity:,}"))
    elif managed > settings.mdm_capacity * settings.mdm_warning_ratio:
        out.append(Risk("mdm_capacity", "amber",
                        f"{managed:,} managed devices at the end of the rollout leave "
                        f"{settings.mdm_capacity - managed:,} spare of {settings.mdm_capacity:,}"))
    if fc.remaining > 0 and (fc.finish is None or fc.finish > fc.deadline):
        basis = (f"at {fc.rate_per_week:.0f} a week the last handset is issued around "
                 f"{fc.finish}" if fc.finish else "no handsets were issued in the last "
                 f"{RECENT_WEEKS} weeks")
        out.append(Risk("deadline_at_risk", "red",
                        f"{people(fc.remaining)} still to serve; {basis}; the deadline is "
                        f"{fc.deadline}"))
    return out


def people(n: int) -> str:
    return f"{n:,} {'person' if n == 1 else 'people'}"


def _stock_by_model(session: Session, records: HandsetRecords,
                    settings: Settings) -> list[tuple[str, int, int]]:
    """(model, people still needing it, handsets of it in stock or expected)."""
    alternatives = tuple(settings.rollout_alternative_models.items())
    served = records.people_with_handset(session)
    need: dict[str, int] = defaultdict(int)
    used: dict[str, int] = defaultdict(int)
    for pid, status, eligible, adjustments in session.execute(select(
            Person.id, Person.status, Person.eligible, Person.adjustments)):
        model = handset_model(adjustments, alternatives)
        if pid in served:
            used[model] += 1
        elif status == PersonStatus.ACTIVE.value and eligible:
            need[model] += 1
    stock: dict[str, int] = defaultdict(int)
    for model, quantity in session.execute(select(StockDelivery.model,
                                                  func.sum(StockDelivery.quantity))
                                           .group_by(StockDelivery.model)):
        stock[model] += int(quantity or 0)
    return [(m, need[m], stock[m] - used[m]) for m in sorted(set(need) | set(stock))]


APPOINTMENT_COLUMNS = ["id", "person", "name", "org_unit", "site", "day", "status", "handset",
                       "note"]


def appointment_rows(session: Session, *, day: date | None = None, site: str | None = None,
                     status: str | None = None, person: str | None = None,
                     limit: int = 200, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    stmt = (select(Appointment, Person, Site, OrgUnit, Handset.imei)
            .join(Person, Appointment.person_id == Person.id)
            .join(Site, Appointment.site_id == Site.id)
            .join(OrgUnit, Person.org_unit_id == OrgUnit.id)
            .outerjoin(Handset, Handset.id == Appointment.handset_id))
    if day:
        stmt = stmt.where(Appointment.day == day)
    if site:
        stmt = stmt.where(Site.code == site)
    if status:
        stmt = stmt.where(Appointment.status == status)
    if person:
        stmt = stmt.where(Person.number == person)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = [{"id": a.id, "person": p.number, "name": p.display_name, "org_unit": u.code,
             "site": s.code, "day": a.day, "status": a.status, "handset": imei,
             "note": a.note}
            for a, p, s, u, imei in session.execute(
                stmt.order_by(Appointment.day, Site.code, Appointment.id)
                .limit(limit).offset(offset))]
    return rows, total


def capacity_rows(session: Session, day_from: date, day_to: date) -> list[dict[str, Any]]:
    stmt = (select(Site.code, IssueSlot.day, IssueSlot.capacity, IssueSlot.booked)
            .join(Site, IssueSlot.site_id == Site.id)
            .where(IssueSlot.day >= day_from, IssueSlot.day <= day_to)
            .order_by(IssueSlot.day, Site.code))
    return [{"site": c, "day": d, "capacity": cap, "booked": b, "free": cap - b}
            for c, d, cap, b in session.execute(stmt)]
