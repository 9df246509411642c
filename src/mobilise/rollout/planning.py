"""Planning against the register: gather the planner's input from the database, run it,
and apply the result as bookings. Re-planning is the same call later on: attended people
drop out, no-shows come back as candidates, late stock moves the plan, and confirmed
appointments stay where they are.

Who still needs a handset is asked of a ``HandsetRecords``: ``RolloutRecords`` answers
from the handset register (a person has a handset when one is issued to them there).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mobilise.core import audit
from mobilise.core.actor import Actor
from mobilise.core.clock import Clock
from mobilise.core.errors import Conflict, InvalidInput
from mobilise.core.settings import Settings
from mobilise.core.transitions import run_transition
from mobilise.devices.capacity import managed_count
from mobilise.devices.models import Handset, HandsetStatus
from mobilise.people.models import OrgUnit, Person, PersonStatus, Site
from mobilise.rollout.appointments import flush_changes, open_places, take_place
from mobilise.rollout.calendar import working_days
from mobilise.rollout.models import (
    LIVE,
    Appointment,
    AppointmentStatus,
    IssueSlot,
    RolloutPlan,
    SiteCapacity,
    StockDelivery,
    Wave,
)
from mobilise.rollout.planner import (
    Candidate,
    Delivery,
    FixedAppointment,
    IssuingSite,
    Plan,
    PlanInput,
    plan_rollout,
)
from mobilise.rollout.transitions import APPOINTMENT

ACCESS_WORDS = ("step-free", "step free", "wheelchair", "accessible", "ground floor")


class HandsetRecords(Protocol):
    """What the planner needs to know about handsets; the handset register implements it."""

    def people_with_handset(self, session: Session) -> set[int]: ...

    def staged_on_hand(self, session: Session) -> int: ...

    def managed_devices(self, session: Session) -> int: ...


@dataclass
class RolloutRecords:
    """Handsets as the programme knows them: the handset register (who holds an issued
    handset, what is staged on hand, what Intune manages). An appointment counts for
    nothing here: it is attended only through a hand-over in the register."""

    staged: int | None = None  # None: the register's staged, enrolled and in-stock handsets
    managed_before: int = 0  # devices Intune manages that the register does not hold

    def people_with_handset(self, session: Session) -> set[int]:
        return holders(session)

    def staged_on_hand(self, session: Session) -> int:
        if self.staged is not None:
            return self.staged
        ready = [HandsetStatus.STAGED.value, HandsetStatus.ENROLLED.value,
                 HandsetStatus.IN_STOCK.value]
        return session.scalar(select(func.count()).select_from(Handset).where(
            Handset.status.in_(ready))) or 0

    def managed_devices(self, session: Session) -> int:
        return self.managed_before + managed_count(session)


def holders(session: Session) -> set[int]:
    """Everyone who holds an issued handset in the register."""
    return {h for h in session.scalars(select(Handset.holder_id).where(
        Handset.status == HandsetStatus.ISSUED.value, Handset.holder_id.is_not(None)))
        if h is not None}


MAX_PLAN_DAYS = 5 * 365


@dataclass(frozen=True)
class PlanOptions:
    start: date
    deadline: date
    staging_per_day: int
    priority: tuple[str, ...]
    default_slots: int
    alternative_models: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        # A plan is day by day; a start years away from the deadline is a typing mistake,
        # not a rollout, and would make the plan (and its slot rows) absurdly long.
        if abs((self.deadline - self.start).days) > MAX_PLAN_DAYS:
            raise InvalidInput(
                f"the plan would start on {self.start} for a deadline of {self.deadline}: "
                f"a plan spans at most {MAX_PLAN_DAYS // 365} years"
            )

    @classmethod
    def from_settings(cls, settings: Settings, start: date, **over: object) -> PlanOptions:
        values: dict[str, object] = {
            "start": start, "deadline": settings.rollout_deadline,
            "staging_per_day": settings.rollout_staging_per_day,
            "priority": tuple(settings.rollout_priority),
            "default_slots": settings.rollout_slots_per_day,
            "alternative_models": tuple(settings.rollout_alternative_models.items()),
        }
        values.update({k: v for k, v in over.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]


def needs_accessible_site(adjustments: str | None) -> bool:
    text = (adjustments or "").lower()
    return any(word in text for word in ACCESS_WORDS)


def handset_model(adjustments: str | None, alternatives: tuple[tuple[str, str], ...]) -> str:
    """The alternative model a person's reasonable adjustments call for ('' standard)."""
    text = (adjustments or "").lower()
    for words, model in alternatives:
        if words.lower() in text:
            return model
    return ""


def priority_group(priority: tuple[str, ...], unit_code: str, unit_kind: str,
                   person_kind: str) -> str:
    keys = {unit_code.lower(), unit_kind.lower(), person_kind.lower()}
    for token in priority:
        if token.lower() in keys:
            return token.lower()
    return unit_kind.lower()


@dataclass
class Gathered:
    input: PlanInput
    units: dict[int, str]
    skipped_overdue: list[int] = field(default_factory=list)
    held_booked: set[int] = field(default_factory=set)


def gather_input(session: Session, records: HandsetRecords, options: PlanOptions, *,
                 hold_booked: bool = False) -> Gathered:
    """Everything the planner needs, read from the register as it stands now. Confirmed
    appointments from the start day on are fixed; with ``hold_booked`` booked ones too."""
    served = records.people_with_handset(session)
    units = {u.id: u for u in session.scalars(select(OrgUnit))}
    held = [AppointmentStatus.CONFIRMED.value]
    if hold_booked:
        held.append(AppointmentStatus.BOOKED.value)
    fixed_rows = session.scalars(select(Appointment).where(
        Appointment.status.in_(held), Appointment.day >= options.start)).all()
    fixed_people = {a.person_id for a in fixed_rows}
    people = []
    model_of: dict[int, str] = {}
    issued: dict[str, int] = defaultdict(int)
    # Columns, not entities: at force scale loading 45,000 Person objects costs more than
    # the planning itself.
    stmt = select(Person.id, Person.org_unit_id, Person.site_id, Person.kind,
                  Person.adjustments, Person.number, Person.status, Person.eligible
                  ).order_by(Person.id)
    groups: dict[tuple[int, str], str] = {}
    for pid, unit_id, site_id, kind, adjustments, number, status, eligible in \
            session.execute(stmt):
        model = handset_model(adjustments, options.alternative_models)
        if pid in served:
            issued[model] += 1  # their handset came out of that model's stock
            continue
        if status != PersonStatus.ACTIVE.value or not eligible:
            continue
        if pid in fixed_people:
            model_of[pid] = model
            continue
        unit = units[unit_id]
        group = groups.get((unit_id, kind))
        if group is None:
            group = priority_group(options.priority, unit.code, unit.kind, kind)
            groups[(unit_id, kind)] = group
        people.append(Candidate(pid, unit.code, site_id, group,
                                needs_accessible_site(adjustments), number, model))
    sites = issuing_sites(session, options.default_slots, units)
    received, deliveries, overdue = _stock(session, options.start)
    staged = records.staged_on_hand(session)
    on_hand = {m: max(0, n - issued.get(m, 0)) for m, n in received.items()}
    inp = PlanInput(
        people=people, sites=sites, deliveries=deliveries,
        staging_per_day=options.staging_per_day, start=options.start,
        deadline=options.deadline, priority=options.priority,
        fixed=[FixedAppointment(a.person_id, a.site_id, a.day, model_of.get(a.person_id, ""))
               for a in fixed_rows],
        stock_on_hand=max(0, on_hand.pop("", 0) - staged), staged_on_hand=staged,
        model_stock=on_hand,
    )
    held_booked = {a.person_id for a in fixed_rows
                   if a.status == AppointmentStatus.BOOKED.value}
    return Gathered(inp, {u.id: u.code for u in units.values()}, overdue, held_booked)


def issuing_sites(session: Session, default_slots: int,
                  units: dict[int, OrgUnit]) -> list[IssuingSite]:
    capacity = {sid: n for sid, n in session.execute(
        select(SiteCapacity.site_id, SiteCapacity.slots_per_day))}
    return [IssuingSite(s.id, capacity.get(s.id, default_slots), s.accessible,
                        units[s.org_unit_id].code if s.org_unit_id else None)
            for s in session.scalars(select(Site).where(Site.issuing.is_(True))
                                     .order_by(Site.id))]


def _stock(session: Session, start: date) -> tuple[dict[str, int], list[Delivery], list[int]]:
    """Received stock so far by model, deliveries still to come, and those that are
    overdue (an overdue delivery is planned as arriving on the first planning day, the
    earliest it can: move its expected date to move the plan)."""
    received: dict[str, int] = defaultdict(int)
    future: list[Delivery] = []
    overdue: list[int] = []
    for d in session.scalars(select(StockDelivery).order_by(StockDelivery.expected_on)):
        if d.received_on is not None and d.received_on <= start:
            received[d.model] += d.quantity
        elif d.received_on is not None:
            # Recorded as received on a later day than the plan starts (a plan for a
            # past period): it arrives on that day.
            future.append(Delivery(d.received_on, d.quantity, d.model))
        else:
            if d.expected_on < start:
                overdue.append(d.id)
            future.append(Delivery(max(d.expected_on, start), d.quantity, d.model))
    return received, future, overdue


@dataclass(frozen=True)
class Applied:
    plan_id: int
    booked: int
    kept: int
    moved: int
    cancelled: int


def make_plan(session: Session, records: HandsetRecords, options: PlanOptions) -> Plan:
    return plan_rollout(gather_input(session, records, options).input)


def replan(session: Session, actor: Actor, records: HandsetRecords, options: PlanOptions,
           clock: Clock) -> tuple[Plan, Applied]:
    """Plan from the register as it stands and book the result.

    First the plan that moves nobody: booked appointments stay, and newcomers and
    no-shows fill the places left. If that leaves a booked appointment without a staged
    handset (late stock) or misses a deadline that a fresh plan would meet, booked
    appointments are re-planned too (confirmed ones never are)."""
    steady = gather_input(session, records, options, hold_booked=True)
    plan = plan_rollout(steady.input)
    if plan.fixed_short or not plan.met:
        fresh = gather_input(session, records, options)
        fresh_plan = plan_rollout(fresh.input)
        if plan.fixed_short or fresh_plan.met:
            return fresh_plan, apply_plan(session, actor, fresh_plan, fresh, options, clock)
    return plan, apply_plan(session, actor, plan, steady, options, clock)


def apply_plan(session: Session, actor: Actor, plan: Plan, gathered: Gathered,
               options: PlanOptions, clock: Clock) -> Applied:
    inp = gathered.input
    last = max(plan.last_day or options.deadline, options.deadline)
    days = working_days(options.start, last)
    for site in inp.sites:
        open_places(session, site.site_id, days, site.slots_per_day)
    # Lock the plan's capacity rows before the first audited write. A desk booking at the
    # same time locks one row and then the audit head; taking the rows first means this
    # transaction never holds the audit head while waiting for a row (no deadlock on
    # PostgreSQL; SQLite has one writer anyway).
    session.execute(select(IssueSlot.id).where(IssueSlot.day >= options.start,
                                               IssueSlot.day <= last)
                    .order_by(IssueSlot.id).with_for_update())
    waves = _save_waves(session, actor, plan, gathered)
    planned = {a.person_id: a for a in plan.appointments}
    # Booked appointments may move; a confirmed one only once its day has passed without
    # an outcome (and then with that reason on record).
    live = {a.person_id: a for a in session.scalars(select(Appointment).where(
        (Appointment.status == AppointmentStatus.BOOKED.value)
        | ((Appointment.status == AppointmentStatus.CONFIRMED.value)
           & (Appointment.day < options.start))))
        if a.person_id not in gathered.held_booked}
    keep = [a for pid, a in live.items()
            if pid in planned and (a.site_id, a.day) == (planned[pid].site_id,
                                                         planned[pid].day)]
    move = [a for pid, a in live.items() if pid in planned and a not in keep]
    drop = [a for pid, a in live.items() if pid not in planned]
    if move:
        run_transition(session, actor, APPOINTMENT, "reschedule", move, reason="re-planned")
    if drop:
        run_transition(session, actor, APPOINTMENT, "cancel", drop,
                       reason="re-planned: no place in the plan or no longer a candidate")
    flush_changes(session)
    replaced = {a.person_id: a.id for a in move}
    kept_people = {a.person_id for a in keep}
    per_place: dict[tuple[int, date], int] = defaultdict(int)
    fresh = [a for a in plan.appointments if a.person_id not in kept_people]
    for a in fresh:
        per_place[(a.site_id, a.day)] += 1
    for (site_id, day), count in sorted(per_place.items()):
        take_place(session, site_id, day, count)
    unit_of = {c.person_id: c.org_unit for c in inp.people}
    fixed_units = {pid: gathered.units[uid] for pid, uid in session.execute(
        select(Person.id, Person.org_unit_id).where(
            Person.id.in_([f.person_id for f in inp.fixed])))} if inp.fixed else {}
    for a in fresh:
        audit.create(session, actor, "appointment.book", Appointment(
            person_id=a.person_id, site_id=a.site_id, day=a.day,
            status=AppointmentStatus.BOOKED.value, wave_id=waves.get(unit_of[a.person_id]),
            replaces_id=replaced.get(a.person_id), note="planned"))
    row = _save_plan(session, actor, plan, inp.fixed, {**unit_of, **fixed_units}, options,
                     clock)
    try:
        session.flush()
    except IntegrityError:
        # A desk booked one of these people after the plan read the register.
        raise Conflict("someone was booked while the plan was being applied; nothing "
                       "changed: plan again") from None
    _refresh_waves(session, actor)
    return Applied(row.id, len(fresh), len(keep) + len(gathered.held_booked), len(move),
                   len(drop))


def _save_waves(session: Session, actor: Actor, plan: Plan, gathered: Gathered) -> dict[str, int]:
    unit_ids = {code: uid for uid, code in gathered.units.items()}
    existing = {w.org_unit_id: w for w in session.scalars(select(Wave))}
    out: dict[str, int] = {}
    for w in plan.waves:
        uid = unit_ids[w.org_unit]
        row = existing.get(uid)
        if row is None:
            row = audit.create(session, actor, "wave.plan", Wave(
                org_unit_id=uid, first_day=w.first_day, last_day=w.last_day, people=w.people))
        else:
            with audit.change(session, actor, "wave.plan", row):
                row.first_day, row.last_day, row.people = w.first_day, w.last_day, w.people
    session.flush()
    for row in session.scalars(select(Wave)):
        out[gathered.units[row.org_unit_id]] = row.id
    return out


def _refresh_waves(session: Session, actor: Actor) -> None:
    """A wave spans its org unit's appointments, booked, confirmed or attended."""
    spans = session.execute(
        select(Person.org_unit_id, func.min(Appointment.day), func.max(Appointment.day),
               func.count(func.distinct(Appointment.person_id)))
        .join(Person, Appointment.person_id == Person.id)
        .where(Appointment.status.in_([*LIVE, AppointmentStatus.ATTENDED.value]))
        .group_by(Person.org_unit_id)).all()
    waves = {w.org_unit_id: w for w in session.scalars(select(Wave))}
    for unit_id, first, last, people in spans:
        wave = waves.get(unit_id)
        if wave is None:
            continue
        with audit.change(session, actor, "wave.plan", wave):
            wave.first_day, wave.last_day, wave.people = first, last, people


def _save_plan(session: Session, actor: Actor, plan: Plan,
               fixed: Sequence[FixedAppointment], unit_of: dict[int, str],
               options: PlanOptions, clock: Clock) -> RolloutPlan:
    by_day: dict[str, int] = defaultdict(int)
    by_unit: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for pid, day in [(a.person_id, a.day) for a in plan.appointments] + [
            (f.person_id, f.day) for f in fixed]:
        by_day[day.isoformat()] += 1
        by_unit[unit_of.get(pid, "?")][day.isoformat()] += 1
    advice = plan.advice
    row = RolloutPlan(
        made_at=clock.now(), start=options.start, deadline=options.deadline,
        staging_per_day=options.staging_per_day, priority=list(options.priority),
        people=len(plan.appointments) + len(fixed), met=plan.met, last_day=plan.last_day,
        people_late=plan.people_late, days_late=plan.days_late,
        advice={"extra_slots_per_site_per_day": advice.extra_slots_per_site_per_day,
                "extra_staging_per_day": advice.extra_staging_per_day,
                "extra_stock_at_start": advice.extra_stock_at_start} if advice else {},
        planned_by_day=dict(sorted(by_day.items())),
        planned_by_unit={u: dict(sorted(d.items())) for u, d in sorted(by_unit.items())},
        staging=[{"day": s.day.isoformat(), "delivered": s.delivered, "staged": s.staged,
                  "issued": s.issued, "stock_waiting": s.stock_waiting,
                  "staged_waiting": s.staged_waiting} for s in plan.staging],
        unplaceable=[{"person_id": u.person_id, "reason": u.reason} for u in plan.unplaceable],
    )
    return audit.create(session, actor, "rollout_plan.make", row)  # type: ignore[no-any-return]


def live_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Appointment)
                          .where(Appointment.status.in_(LIVE))) or 0
