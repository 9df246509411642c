"""Benchmark: plan 45,000 people across 30 issuing sites and 120 working days (target < 5 s).

Run: PYTHONPATH=src python bench/bench_plan.py

The anchor, measured in the same run, is sorting the 45,000 candidates by their priority
key (the least any planner must do); the ratio says how many such sorts the plan costs.
A second case misses its deadline so that the advice search (extra slots, staging, stock)
is timed too.
"""

from __future__ import annotations

import random
import time
from datetime import date

from mobilise.rollout.calendar import working_days_after
from mobilise.rollout.planner import Candidate, Delivery, IssuingSite, PlanInput, plan_rollout

PEOPLE, SITES, DAYS = 45_000, 30, 120
GROUPS = ["response", "neighbourhood", "investigation", "specialist", "staff"]


def build(slots: int, seed: int = 1322) -> PlanInput:
    rng = random.Random(seed)
    start = date(2022, 10, 3)
    days = working_days_after(start, DAYS)
    units = [f"U{i:02d}" for i in range(40)]
    people = [
        Candidate(i, rng.choice(units), rng.randrange(1, SITES + 8), rng.choice(GROUPS),
                  needs_accessible=rng.random() < 0.02, number=f"{100000 + i}")
        for i in range(PEOPLE)
    ]
    sites = [IssuingSite(s, slots, accessible=s % 4 != 0, org_unit=units[s % 40])
             for s in range(1, SITES + 1)]
    deliveries = [Delivery(days[i], 3_000) for i in range(0, 75, 5)]
    return PlanInput(people, sites, deliveries, staging_per_day=600, start=start,
                     deadline=days[-1], priority=GROUPS)


def timed(label: str, inp: PlanInput) -> float:
    began = time.perf_counter()
    plan = plan_rollout(inp)
    took = time.perf_counter() - began
    print(f"{label}: {took:.3f} s  met={plan.met} last_day={plan.last_day} "
          f"late={plan.people_late} advice={plan.advice}")
    return took


def main() -> None:
    fits, misses = build(slots=16), build(slots=11)
    began = time.perf_counter()
    sorted(fits.people, key=lambda c: (GROUPS.index(c.group), c.org_unit, c.number))
    anchor = time.perf_counter() - began
    print(f"anchor (sort {PEOPLE:,} candidates by priority key): {anchor:.3f} s")
    plan_time = timed(f"plan {PEOPLE:,} people x {SITES} sites x {DAYS} days (meets)", fits)
    miss_time = timed("plan that misses, with the capacity advice", misses)
    print(f"ratio plan/anchor: {plan_time / anchor:.1f}x; with advice: "
          f"{miss_time / anchor:.1f}x; target < 5 s: "
          f"{'yes' if max(plan_time, miss_time) < 5 else 'NO'}")


if __name__ == "__main__":
    main()
