"""The rollout planner: a pure function from people, stock, staging and issuing capacity to
an appointment per person and a staging schedule, with an honest answer about the deadline.

The rules it keeps:

* a handset is issued only after it was staged on an earlier working day, and staged only
  once its stock has arrived (a delivery dated ``d`` can be staged on ``d``; deliveries
  dated before ``start`` count as stock on hand);
* no site issues more than its slots on any working day; confirmed appointments
  (``fixed``) keep their site and day and take their slot first;
* people are served in the configured priority order of their groups (then org unit, then
  number), so that when stock or staging is short the first groups are served first;
* a person who needs an alternative model (a reasonable adjustment: a large-screen or
  hearing-aid-compatible handset) gets one from that model's own stock; staging capacity
  is shared, going first to the model with the most people still waiting for it.

The work is done in two layers so that it stays fast at force scale: a day-by-day
simulation over *counts* (site × priority group), which is cheap enough to repeat inside a
binary search for the extra capacity that would meet a missed deadline, and then one pass
that hands the counted slots to named people in order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
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
    model: str = ""  # "" is the standard model


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
    model: str = ""


@dataclass(frozen=True)
class FixedAppointment:
    """A confirmed appointment: it never moves in a re-plan."""

    person_id: int
    site_id: int
    day: date
    model: str = ""


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
    # Alternative models in stock or staged at the start (the two counts above are for the
    # standard model).
    model_stock: Mapping[str, int] = field(default_factory=dict)
    model_staged: Mapping[str, int] = field(default_factory=dict)


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
    extra_stock_by_model: dict[str, int | None] = field(default_factory=dict)


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
            **({"extra_stock_by_model": self.advice.extra_stock_by_model}
               if self.advice and self.advice.extra_stock_by_model else {}),
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
    issued: dict[tuple[int, int, int], int]  # (day index, site, class) -> people
    staging: list[StagingDay]
    last_index: int | None
    remaining: int
    fixed_short: list[tuple[date, int]]


@dataclass
class _Pools:
    """Per model: stock on hand and staged at the start, and deliveries."""

    stock: list[int]
    staged: list[int]
    deliveries: list[tuple[date, int, int]]  # (day, model index, quantity), sorted


def _simulate(
    days: Sequence[date],
    demand: list[list[int]],
    class_model: Sequence[int],
    slots: Sequence[int],
    fixed_at: dict[tuple[int, int, int], int],
    pools: _Pools,
    staging_per_day: int,
    stop_after: int | None = None,
    record: bool = True,
) -> _Run:
    models = len(pools.stock)
    remaining = [row[:] for row in demand]
    left_at_site = [sum(row) for row in remaining]
    total_left = sum(left_at_site)
    left_model = [0] * models
    for row in demand:
        for c, n in enumerate(row):
            left_model[class_model[c]] += n
    fixed_model = [0] * models
    for (_, _, m), n in fixed_at.items():
        fixed_model[m] += n
    fixed_left = sum(fixed_model)
    classes = len(class_model)
    next_delivery = 0
    stock, staged = list(pools.stock), list(pools.staged)
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
        while next_delivery < len(pools.deliveries) and pools.deliveries[next_delivery][0] <= day:
            _, m, quantity = pools.deliveries[next_delivery]
            stock[m] += quantity
            delivered += quantity
            next_delivery += 1
        # Issue first, from handsets staged on earlier days only.
        issued_today = 0
        free = list(slots)
        for s in range(len(slots)):
            for m in range(models):
                booked = fixed_at.get((i, s, m), 0)
                if not booked:
                    continue
                free[s] = max(0, free[s] - booked)
                fixed_left -= booked
                fixed_model[m] -= booked
                covered = min(booked, staged[m])
                staged[m] -= covered
                issued_today += covered
                if covered < booked:
                    fixed_short.append((day, booked - covered))
        if total_left and any(staged):
            # Sites with the most days of work left go first within a group, so that a
            # shared shortage of handsets does not leave one site finishing late.
            site_order.sort(key=lambda s: (-left_at_site[s] / max(1, slots[s]), s))
            for c in range(classes):
                m = class_model[c]
                if not staged[m]:
                    continue
                for s in site_order:
                    want = remaining[s][c]
                    if not want or not free[s]:
                        continue
                    take = min(want, free[s], staged[m])
                    remaining[s][c] -= take
                    left_at_site[s] -= take
                    left_model[m] -= take
                    free[s] -= take
                    staged[m] -= take
                    total_left -= take
                    issued_today += take
                    issued[(i, s, c)] = take
                    if not staged[m]:
                        break
        if issued_today:
            last_index = i
        # Then stage for the days ahead, never more than is still needed; the model with
        # the most people waiting for it goes first.
        capacity = staging_per_day
        staged_today = 0
        needs = [max(0, left_model[m] + fixed_model[m] - staged[m]) for m in range(models)]
        for m in sorted(range(models), key=lambda m: (-needs[m], m)):
            stage = min(capacity, stock[m], needs[m])
            stock[m] -= stage
            staged[m] += stage
            capacity -= stage
            staged_today += stage
        if record:
            staging.append(StagingDay(day, delivered, staged_today, issued_today, sum(stock),
                                      sum(staged)))
    return _Run(issued, staging, last_index, total_left + fixed_left, fixed_short)


# --- the planner ------------------------------------------------------------------------


def _validate(inp: PlanInput) -> list[IssuingSite]:
    on_hand = [inp.stock_on_hand, inp.staged_on_hand, *inp.model_stock.values(),
               *inp.model_staged.values()]
    if inp.staging_per_day < 0 or min(on_hand) < 0:
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
    model_names = sorted({"", *(c.model for c in placed), *(d.model for d in inp.deliveries),
                          *(f.model for f in inp.fixed), *inp.model_stock, *inp.model_staged})
    model_index = {m: i for i, m in enumerate(model_names)}
    # A class is a (priority group, model) pair, in priority order.
    class_of = {(g, m): rank[g] * len(model_names) + model_index[m]
                for g in rank for m in model_names}
    class_model = [i % len(model_names) for i in range(len(rank) * len(model_names))]
    demand = [[0] * len(class_model) for _ in sites]
    queues: list[list[list[Candidate]]] = [[[] for _ in class_model] for _ in sites]
    for c, s in zip(placed, chosen, strict=True):
        k = class_of[(c.group, c.model)]
        demand[s][k] += 1
        queues[s][k].append(c)
    site_index = {s.site_id: i for i, s in enumerate(sites)}
    day_index = {d: i for i, d in enumerate(days)}
    fixed_at: dict[tuple[int, int, int], int] = defaultdict(int)
    for f in inp.fixed:
        if f.site_id not in site_index or f.day not in day_index:
            raise InvalidInput(f"confirmed appointment of person {f.person_id} on {f.day} is "
                               "not on a working day at an issuing site in the plan")
        fixed_at[(day_index[f.day], site_index[f.site_id], model_index[f.model])] += 1
    pools = _pools(inp, model_index)
    slots = [s.slots_per_day for s in sites]
    run = _simulate(days, demand, class_model, slots, fixed_at, pools, inp.staging_per_day)
    appointments = _name_people(run, queues, sites, days)
    late = sum(1 for a in appointments if a.day > inp.deadline) + run.remaining
    met = run.remaining == 0 and (run.last_index is None or run.last_index <= deadline_index)
    last_day = days[run.last_index] if run.last_index is not None else None
    days_late = None
    if run.remaining == 0:
        days_late = max(0, (run.last_index or 0) - deadline_index) if last_day else 0
    advice = None
    if not met and advise:
        advice = _advise(days, demand, class_model, slots, fixed_at, pools, inp,
                         deadline_index, model_names)
    return Plan(inp.deadline, appointments, run.staging, refused, met, last_day, late,
                days_late, advice, run.fixed_short, _waves(appointments, placed))


def _pools(inp: PlanInput, model_index: dict[str, int]) -> _Pools:
    stock = [0] * len(model_index)
    staged = [0] * len(model_index)
    stock[model_index[""]] += inp.stock_on_hand
    staged[model_index[""]] += inp.staged_on_hand
    for m, n in inp.model_stock.items():
        stock[model_index[m]] += n
    for m, n in inp.model_staged.items():
        staged[model_index[m]] += n
    deliveries = sorted((d.on, model_index[d.model], d.quantity) for d in inp.deliveries)
    return _Pools(stock, staged, deliveries)


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


def _advise(days: Sequence[date], demand: list[list[int]], class_model: Sequence[int],
            slots: list[int], fixed_at: dict[tuple[int, int, int], int], pools: _Pools,
            inp: PlanInput, deadline_index: int, model_names: Sequence[str]) -> Advice:
    """The least extra of each kind of capacity that, alone, meets the deadline."""
    total = sum(map(sum, demand)) + sum(fixed_at.values())

    def meets(extra_slots: int = 0, extra_staging: int = 0, extra_stock: int = 0,
              model: int = 0) -> bool:
        stock = list(pools.stock)
        stock[model] += extra_stock
        run = _simulate(days, demand, class_model, [s + extra_slots for s in slots], fixed_at,
                        _Pools(stock, pools.staged, pools.deliveries),
                        inp.staging_per_day + extra_staging, stop_after=deadline_index,
                        record=False)
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
    by_model: dict[str, int | None] = {}
    if len(model_names) > 1:
        for m, name in enumerate(model_names):
            by_model[name or "standard"] = least(
                lambda k, m=m: meets(extra_stock=k, model=m), top)  # type: ignore[misc]
    return Advice(
        least(lambda k: meets(extra_slots=k), top),
        least(lambda k: meets(extra_staging=k), top),
        least(lambda k: meets(extra_stock=k, model=0), top),
        by_model,
    )


def with_extra(inp: PlanInput, *, slots: int = 0, staging: int = 0, stock: int = 0) -> PlanInput:
    """The same input with more capacity: used to show what the advice would give."""
    return replace(
        inp,
        sites=[replace(s, slots_per_day=s.slots_per_day + slots) for s in inp.sites],
        staging_per_day=inp.staging_per_day + staging,
        stock_on_hand=inp.stock_on_hand + stock,
    )
