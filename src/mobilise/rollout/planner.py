"""The rollout planner: a pure function from people, stock, staging and issuing capacity to
an appointment per person and a staging schedule, with an honest answer about the deadline.

The rules it keeps:

* a handset is issued only after it was staged on an earlier working day, and staged only
  once its stock has arrived (a delivery dated ``d`` can be staged on ``d``; deliveries
  dated before ``start`` count as stock on hand);
* no site issues more than its slots on any working day; confirmed appointments
  (``fixed``) keep their site and day and take their slot first;
* people are served in the configured priority order of their groups (then org unit, then
  number), so that when stock or staging is short the first groups are served first.

The work is done in two layers so that it stays fast at force scale: a day-by-day
simulation over *counts* (site × priority group), which is cheap enough to repeat inside a
binary search for the extra capacity that would meet a missed deadline, and then one pass
that hands the counted slots to named people in order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

from mobilise.core.errors import InvalidInput
from mobilise.rollout.calendar import working_days_after


@dataclass(frozen=True)
class Candidate:
    """A person to serve: eligible, active, and without a handset."""

    person_id: int
    org_unit: str
    site_id: int | None
    group: str
    needs_accessible: bool = False
    number: str = ""


@dataclass(frozen=True)
class IssuingSite:
    site_id: int
    slots_per_day: int
    accessible: bool = True
    org_unit: str | None = None


@dataclass(frozen=True)
class Delivery:
    on: date
    quantity: int


@dataclass(frozen=True)
class FixedAppointment:
    """A confirmed appointment: it never moves in a re-plan."""

    person_id: int
    site_id: int
    day: date


@dataclass(frozen=True)
class PlanInput:
    people: Sequence[Candidate]
    sites: Sequence[IssuingSite]
    deliveries: Sequence[Delivery]
    staging_per_day: int
    start: date
    deadline: date
    priority: Sequence[str] = ()
    fixed: Sequence[FixedAppointment] = ()
    stock_on_hand: int = 0
    staged_on_hand: int = 0
    closures: Sequence[date] = ()
    horizon_days: int = 750


@dataclass(frozen=True)
class PlannedAppointment:
    person_id: int
    site_id: int
    day: date


@dataclass(frozen=True)
class StagingDay:
    day: date
    delivered: int
    staged: int
    issued: int
    stock_waiting: int
    staged_waiting: int


@dataclass(frozen=True)
class Unplaceable:
    person_id: int
    reason: str


@dataclass(frozen=True)
class Advice:
    """Each figure alone (others unchanged) would meet the deadline; None: not on its own."""

    extra_slots_per_site_per_day: int | None
    extra_staging_per_day: int | None
    extra_stock_at_start: int | None


@dataclass(frozen=True)
class WavePlan:
    org_unit: str
    first_day: date
    last_day: date
    people: int


@dataclass
class Plan:
    deadline: date
    appointments: list[PlannedAppointment]
    staging: list[StagingDay]
    unplaceable: list[Unplaceable]
    met: bool
    last_day: date | None
    people_late: int
    days_late: int | None
    advice: Advice | None
    fixed_short: list[tuple[date, int]] = field(default_factory=list)
    waves: list[WavePlan] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        return {
            "people": len(self.appointments), "unplaceable": len(self.unplaceable),
            "deadline": self.deadline.isoformat(), "met": self.met,
            "last_day": self.last_day.isoformat() if self.last_day else None,
            "people_late": self.people_late, "days_late": self.days_late,
            "extra_slots_per_site_per_day":
                self.advice.extra_slots_per_site_per_day if self.advice else 0,
            "extra_staging_per_day": self.advice.extra_staging_per_day if self.advice else 0,
            "extra_stock_at_start": self.advice.extra_stock_at_start if self.advice else 0,
        }


# --- site resolution --------------------------------------------------------------------


def _resolve_sites(
    inp: PlanInput, sites: list[IssuingSite]
) -> tuple[list[int], list[Candidate], list[Unplaceable]]:
    """Give each person an issuing site: their own if it issues (and is accessible when
    they need it), else the least-loaded suitable site of their org unit, else anywhere."""
    index = {s.site_id: i for i, s in enumerate(sites)}
    load = [0] * len(sites)
    by_unit: dict[str | None, list[int]] = defaultdict(list)
    for i, s in enumerate(sites):
        by_unit[s.org_unit].append(i)
    chosen: list[int] = []
    placed: list[Candidate] = []
    refused: list[Unplaceable] = []
    for c in inp.people:
        own = index.get(c.site_id) if c.site_id is not None else None
        if own is not None and (sites[own].accessible or not c.needs_accessible):
            pick = own
        else:
            pool = [i for i in by_unit.get(c.org_unit, [])
                    if sites[i].accessible or not c.needs_accessible]
            if not pool:
                pool = [i for i in range(len(sites))
                        if sites[i].accessible or not c.needs_accessible]
            if not pool:
                refused.append(Unplaceable(c.person_id, "no accessible issuing site"
                                           if c.needs_accessible else "no issuing site"))
                continue
            pick = min(pool, key=lambda i: (load[i] / sites[i].slots_per_day, i))
        load[pick] += 1
        chosen.append(pick)
        placed.append(c)
    return chosen, placed, refused


# --- the count simulation ---------------------------------------------------------------


@dataclass
class _Run:
    issued: dict[tuple[int, int, int], int]  # (day index, site, group) -> people
    staging: list[StagingDay]
    last_index: int | None
    remaining: int
    fixed_short: list[tuple[date, int]]


def _simulate(
    days: Sequence[date],
    demand: list[list[int]],
    slots: Sequence[int],
    fixed_at: dict[tuple[int, int], int],
    deliveries: Sequence[Delivery],
    staging_per_day: int,
    stock_on_hand: int,
    staged_on_hand: int,
    stop_after: int | None = None,
    record: bool = True,
) -> _Run:
    remaining = [row[:] for row in demand]
    left_at_site = [sum(row) for row in remaining]
    total_left = sum(left_at_site)
    fixed_left = sum(fixed_at.values())
    groups = len(demand[0]) if demand else 0
    arrivals = sorted(deliveries, key=lambda d: d.on)
    next_delivery = 0
    stock, staged = stock_on_hand, staged_on_hand
    issued: dict[tuple[int, int, int], int] = {}
    staging: list[StagingDay] = []
    fixed_short: list[tuple[date, int]] = []
    last_index: int | None = None
    site_order = list(range(len(slots)))
    for i, day in enumerate(days):
        if stop_after is not None and i > stop_after:
            break
        if total_left == 0 and fixed_left == 0:
            break
        delivered = 0
        while next_delivery < len(arrivals) and arrivals[next_delivery].on <= day:
            delivered += arrivals[next_delivery].quantity
            next_delivery += 1
        stock += delivered
        # Issue first, from handsets staged on earlier days only.
        issued_today = 0
        free = list(slots)
        for s in range(len(slots)):
            booked = fixed_at.get((i, s), 0)
            if booked:
                free[s] = max(0, free[s] - booked)
                fixed_left -= booked
                covered = min(booked, staged)
                staged -= covered
                issued_today += covered
                if covered < booked:
                    fixed_short.append((day, booked - covered))
        if total_left and staged:
            # Sites with the most days of work left go first within a group, so that a
            # shared shortage of handsets does not leave one site finishing late.
            site_order.sort(key=lambda s: (-left_at_site[s] / max(1, slots[s]), s))
            for g in range(groups):
                if not staged:
                    break
                for s in site_order:
                    want = remaining[s][g]
                    if not want or not free[s]:
                        continue
                    take = min(want, free[s], staged)
                    remaining[s][g] -= take
                    left_at_site[s] -= take
                    free[s] -= take
                    staged -= take
                    total_left -= take
                    issued_today += take
                    issued[(i, s, g)] = take
                    if not staged:
                        break
        if issued_today:
            last_index = i
        # Then stage for the days ahead, never more than is still needed.
        needed = max(0, total_left + fixed_left - staged)
        stage = min(staging_per_day, stock, needed)
        stock -= stage
        staged += stage
        if record:
            staging.append(StagingDay(day, delivered, stage, issued_today, stock, staged))
    return _Run(issued, staging, last_index, total_left + fixed_left, fixed_short)


# --- the planner ------------------------------------------------------------------------


def _validate(inp: PlanInput) -> list[IssuingSite]:
    if inp.staging_per_day < 0 or inp.stock_on_hand < 0 or inp.staged_on_hand < 0:
        raise InvalidInput("staging capacity and stock on hand cannot be negative")
    if any(d.quantity < 0 for d in inp.deliveries):
        raise InvalidInput("a delivery quantity cannot be negative")
    if any(s.slots_per_day < 0 for s in inp.sites):
        raise InvalidInput("slots per day cannot be negative")
    return [s for s in inp.sites if s.slots_per_day > 0]


def _group_rank(priority: Sequence[str], groups: set[str]) -> dict[str, int]:
    ordered = [g for g in priority if g in groups]
    ordered += sorted(groups - set(ordered))
    return {g: i for i, g in enumerate(ordered)}


def plan_rollout(inp: PlanInput, *, advise: bool = True) -> Plan:
    """Plan every candidate's appointment and the staging that feeds them."""
    sites = _validate(inp)
    days = working_days_after(inp.start, inp.horizon_days, inp.closures)
    # A deadline before the start is allowed: everyone is late, and the plan says so.
    deadline_index = sum(1 for d in days if d <= inp.deadline) - 1
    chosen, placed, refused = _resolve_sites(inp, sites)
    rank = _group_rank(inp.priority, {c.group for c in placed})
    groups = len(rank)
    demand = [[0] * groups for _ in sites]
    queues: list[list[list[Candidate]]] = [[[] for _ in range(groups)] for _ in sites]
    for c, s in zip(placed, chosen, strict=True):
        demand[s][rank[c.group]] += 1
        queues[s][rank[c.group]].append(c)
    site_index = {s.site_id: i for i, s in enumerate(sites)}
    day_index = {d: i for i, d in enumerate(days)}
    fixed_at: dict[tuple[int, int], int] = defaultdict(int)
    for f in inp.fixed:
        if f.site_id not in site_index or f.day not in day_index:
            raise InvalidInput(f"confirmed appointment of person {f.person_id} on {f.day} is "
                               "not on a working day at an issuing site in the plan")
        fixed_at[(day_index[f.day], site_index[f.site_id])] += 1
    deliveries = list(inp.deliveries)
    slots = [s.slots_per_day for s in sites]
    run = _simulate(days, demand, slots, fixed_at, deliveries, inp.staging_per_day,
                    inp.stock_on_hand, inp.staged_on_hand)
    appointments = _name_people(run, queues, sites, days)
    late = sum(1 for a in appointments if a.day > inp.deadline) + run.remaining
    met = run.remaining == 0 and (run.last_index is None or run.last_index <= deadline_index)
    last_day = days[run.last_index] if run.last_index is not None else None
    days_late = None
    if run.remaining == 0:
        days_late = max(0, (run.last_index or 0) - deadline_index) if last_day else 0
    advice = None
    if not met and advise:
        advice = _advise(days, demand, slots, fixed_at, deliveries, inp, deadline_index)
    return Plan(inp.deadline, appointments, run.staging, refused, met, last_day, late,
                days_late, advice, run.fixed_short, _waves(appointments, placed))


def _name_people(run: _Run, queues: list[list[list[Candidate]]], sites: list[IssuingSite],
                 days: Sequence[date]) -> list[PlannedAppointment]:
    for site_queues in queues:
        for q in site_queues:
            q.sort(key=lambda c: (c.org_unit, c.number, c.person_id))
    taken = [[0] * len(q) for q in queues]
    out: list[PlannedAppointment] = []
    for (i, s, g), count in sorted(run.issued.items()):
        start = taken[s][g]
        for c in queues[s][g][start:start + count]:
            out.append(PlannedAppointment(c.person_id, sites[s].site_id, days[i]))
        taken[s][g] = start + count
    return out


def _waves(appointments: list[PlannedAppointment], placed: list[Candidate]) -> list[WavePlan]:
    unit_of = {c.person_id: c.org_unit for c in placed}
    spans: dict[str, list[date]] = {}
    counts: dict[str, int] = defaultdict(int)
    for a in appointments:
        unit = unit_of[a.person_id]
        counts[unit] += 1
        span = spans.setdefault(unit, [a.day, a.day])
        span[0], span[1] = min(span[0], a.day), max(span[1], a.day)
    return sorted((WavePlan(u, s[0], s[1], counts[u]) for u, s in spans.items()),
                  key=lambda w: (w.first_day, w.org_unit))


def _advise(days: Sequence[date], demand: list[list[int]], slots: list[int],
            fixed_at: dict[tuple[int, int], int], deliveries: list[Delivery],
            inp: PlanInput, deadline_index: int) -> Advice:
    """The least extra of each kind of capacity that, alone, meets the deadline."""
    total = sum(map(sum, demand)) + sum(fixed_at.values())

    def meets(extra_slots: int = 0, extra_staging: int = 0, extra_stock: int = 0) -> bool:
        run = _simulate(days, demand, [s + extra_slots for s in slots], fixed_at, deliveries,
                        inp.staging_per_day + extra_staging, inp.stock_on_hand + extra_stock,
                        inp.staged_on_hand, stop_after=deadline_index, record=False)
        return run.remaining == 0

    def least(check: Callable[[int], bool], hi: int) -> int | None:
        if not check(hi):
            return None
        lo = 0
        while lo < hi:
            mid = (lo + hi) // 2
            if check(mid):
                hi = mid
            else:
                lo = mid + 1
        return lo

    if not demand:
        return Advice(None, None, None)
    top = max(total, 1)
    return Advice(
        least(lambda k: meets(extra_slots=k), top),
        least(lambda k: meets(extra_staging=k), top),
        least(lambda k: meets(extra_stock=k), top),
    )


def with_extra(inp: PlanInput, *, slots: int = 0, staging: int = 0, stock: int = 0) -> PlanInput:
    """The same input with more capacity: used to show what the advice would give."""
    return replace(
        inp,
        sites=[replace(s, slots_per_day=s.slots_per_day + slots) for s in inp.sites],
        staging_per_day=inp.staging_per_day + staging,
        stock_on_hand=inp.stock_on_hand + stock,
    )
