"""Benchmark: plan 45,000 people across 30 issuing sites and 120 working days (target < 5 s).

Run: PYTHONPATH=src python bench/bench_plan.py

1% of the people need an alternative (large-screen) model, from its own delivery.

The anchor, measured in the same run, is sorting the 45,000 candidates by their priority
key (the least any planner must do); the ratio says how many such sorts the plan costs.
A second case misses its deadline so that the advice search (extra slots, staging, stock)
is timed too; a third reads the same scale from a SQLite register (gather + plan).
"""

from __future__ import annotations

import random
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import insert

import mobilise.models  # noqa: F401  (every model mapped before the first flush)
from mobilise.core.db import make_engine, session_scope
from mobilise.core.settings import Settings
from mobilise.people.models import OrgUnit, Person, Site
from mobilise.rollout.calendar import working_days_after
from mobilise.rollout.models import StockDelivery
from mobilise.rollout.planner import Candidate, Delivery, IssuingSite, PlanInput, plan_rollout
from mobilise.rollout.planning import PlanOptions, RolloutRecords, make_plan
from mobilise.schema import upgrade_schema

PEOPLE, SITES, DAYS = 45_000, 30, 120
GROUPS = ["response", "neighbourhood", "investigation", "specialist", "staff"]


def build(slots: int, seed: int = 1322) -> PlanInput:
    rng = random.Random(seed)
    start = date(2022, 10, 3)
    days = working_days_after(start, DAYS)
    units = [f"U{i:02d}" for i in range(40)]
    people = [
        Candidate(i, rng.choice(units), rng.randrange(1, SITES + 8), rng.choice(GROUPS),
                  needs_accessible=rng.random() < 0.02, number=f"{100000 + i}",
                  model="large-screen" if rng.random() < 0.01 else "")
        for i in range(PEOPLE)
    ]
    sites = [IssuingSite(s, slots, accessible=s % 4 != 0, org_unit=units[s % 40])
             for s in range(1, SITES + 1)]
    deliveries = [Delivery(days[i], 3_000) for i in range(0, 75, 5)]
    deliveries.append(Delivery(days[10], 600, "large-screen"))
    return PlanInput(people, sites, deliveries, staging_per_day=600, start=start,
                     deadline=days[-1], priority=GROUPS)


def timed(label: str, inp: PlanInput) -> float:
    began = time.perf_counter()
    plan = plan_rollout(inp)
    took = time.perf_counter() - began
    print(f"{label}: {took:.3f} s  met={plan.met} last_day={plan.last_day} "
          f"late={plan.people_late} advice={plan.advice}")
    return took


def register_case(tmp: Path) -> float:
    """The same scale read from a SQLite register: gather the input, then plan."""
    settings = Settings(database_url=f"sqlite:///{tmp / 'bench.db'}", data_dir=tmp)
    upgrade_schema(settings)
    rng = random.Random(1322)
    engine = make_engine(settings.database_url)
    with engine.begin() as conn:
        # Bench data goes straight in with Core inserts: the bench measures planning, not
        # the audited roster import.
        conn.execute(insert(OrgUnit), [{"id": i, "code": f"U{i:02d}", "name": f"Unit {i}",
                                        "kind": "bcu" if i < 30 else "department"}
                                       for i in range(40)])
        conn.execute(insert(Site), [{"id": s, "code": f"S{s:02d}", "name": f"Site {s}",
                                     "org_unit_id": s % 40, "accessible": s % 4 != 0,
                                     "issuing": s <= SITES} for s in range(1, SITES + 9)])
        conn.execute(insert(Person), [
            {"id": i, "number": f"{100000 + i}", "kind": "officer", "first_name": "A",
             "last_name": "B", "upn": f"p{i}@x", "email": f"p{i}@x", "org_unit_id":
             rng.randrange(40), "site_id": rng.randrange(1, SITES + 9), "status": "active",
             "eligible": True, "adjustments": "Step-free issuing site required"
             if rng.random() < 0.02 else None} for i in range(1, PEOPLE + 1)])
        conn.execute(insert(StockDelivery), [
            {"expected_on": date(2022, 10, 3) + timedelta(weeks=w), "quantity": 3_000,
             "reference": f"D{w}"} for w in range(15)])
    options = PlanOptions(start=date(2022, 10, 3), deadline=date(2023, 3, 17),
                          staging_per_day=600, priority=("bcu", "department"),
                          default_slots=16)
    with session_scope(settings) as s:
        began = time.perf_counter()
        plan = make_plan(s, RolloutRecords(), options)
        took = time.perf_counter() - began
    engine.dispose()
    print(f"plan from a SQLite register of {PEOPLE:,} people: {took:.3f} s  met={plan.met} "
          f"last_day={plan.last_day} appointments={len(plan.appointments):,}")
    return took


def main() -> None:
    fits, misses = build(slots=16), build(slots=11)
    rank = {g: i for i, g in enumerate(GROUPS)}
    began = time.perf_counter()
    sorted(fits.people, key=lambda c: (rank[c.group], c.org_unit, c.number))
    anchor = time.perf_counter() - began
    print(f"anchor (sort {PEOPLE:,} candidates by priority key): {anchor:.3f} s")
    plan_time = timed(f"plan {PEOPLE:,} people x {SITES} sites x {DAYS} days (meets)", fits)
    miss_time = timed("plan that misses, with the capacity advice", misses)
    with tempfile.TemporaryDirectory() as tmp:
        db_time = register_case(Path(tmp))
    print(f"ratio to anchor: plan {plan_time / anchor:.1f}x, with advice "
          f"{miss_time / anchor:.1f}x, from the register {db_time / anchor:.1f}x; "
          f"target < 5 s: {'yes' if max(plan_time, miss_time, db_time) < 5 else 'NO'}")


if __name__ == "__main__":
    main()
