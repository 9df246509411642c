"""Benchmark: the overview page's panels and the migration burndown at 45,000 people.

Run: PYTHONPATH=src python bench/bench_overview.py

A SQLite register of 45,000 active eligible people in 40 org units, 15 waves of 3,000
(each with three rounds whose totals are set), 20,000 people marked migrated over 20 weeks
in the audit log, and no appointments or handsets. Timed: ``burndown`` (everyone, every
unit) and ``panels`` (the six overview panels). The anchor, measured in the same run, is
the people register summary the overview already showed (a group-by over the people); the
ratios say how many such summaries each costs.
"""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

import mobilise.models  # noqa: F401  (every model mapped before the first flush)
from mobilise.core.audit import AuditEntry
from mobilise.core.clock import FixedClock
from mobilise.core.db import make_engine, session_scope
from mobilise.core.settings import Settings
from mobilise.migration.burndown import burndown
from mobilise.migration.models import MigrationRound, MigrationWave, PersonMigration
from mobilise.people.models import OrgUnit, Person
from mobilise.people.reports import register_summary
from mobilise.schema import upgrade_schema
from mobilise.web.overview import panels

PEOPLE, WAVES, MIGRATED = 45_000, 15, 20_000
START = datetime(2026, 1, 5, 9, tzinfo=UTC)


def build(tmp: Path) -> Settings:
    settings = Settings(database_url=f"sqlite:///{tmp / 'bench.db'}", data_dir=tmp)
    upgrade_schema(settings)
    rng = random.Random(1322)
    per_wave = PEOPLE // WAVES
    with make_engine(settings.database_url).begin() as conn:
        # Core inserts: the bench measures the reading, not the audited imports.
        conn.execute(insert(OrgUnit), [{"id": i, "code": f"U{i:02d}", "name": f"Unit {i}",
                                        "kind": "bcu"} for i in range(40)])
        conn.execute(insert(Person), [
            {"id": i, "number": f"{100000 + i}", "kind": "officer", "first_name": "A",
             "last_name": "B", "upn": f"p{i}@x", "email": f"p{i}@x",
             "org_unit_id": rng.randrange(40), "status": "active", "eligible": True}
            for i in range(1, PEOPLE + 1)])
        conn.execute(insert(MigrationWave), [
            {"id": w, "name": f"Wave {w}", "created_at": START} for w in range(1, WAVES + 1)])
        conn.execute(insert(MigrationRound), [
            {"wave_id": w, "number": n, "kind": kind, "status": "done" if n < 3 else "planned",
             "scheduled_for": START + timedelta(weeks=w) if kind == "cutover" else None,
             "summary": {"bytes_copied": rng.randrange(10**12)} if n < 3 else None}
            for w in range(1, WAVES + 1)
            for n, kind in ((1, "pre_seed"), (2, "delta"), (3, "cutover"))])
        conn.execute(insert(PersonMigration), [
            {"id": i, "wave_id": (i - 1) // per_wave + 1, "person_id": i,
             "state": "migrated" if i <= MIGRATED else "not_started"}
            for i in range(1, PEOPLE + 1)])
        conn.execute(insert(AuditEntry), [
            {"seq": i, "at": START + timedelta(hours=i * 20 * 7 * 24 // MIGRATED),
             "actor": "bench", "action": "migration_person.migrate",
             "entity": "migration_person", "entity_id": str(i), "prev_hash": "",
             "hash": ""} for i in range(1, MIGRATED + 1)])
    return settings


def timed(work: Callable[[], object], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        began = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - began)
    return best


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        settings = build(Path(folder))
        clock = FixedClock(START + timedelta(weeks=20))
        with session_scope(settings) as s:
            anchor = timed(lambda: register_summary(s))
            down = timed(lambda: burndown(s, date(2026, 5, 25)))
            overview = timed(lambda: panels(s, settings, clock))
    print(f"people register summary (anchor): {anchor * 1000:8.1f} ms")
    print(f"migration burndown, 41 units:      {down * 1000:8.1f} ms  ({down / anchor:.1f}x)")
    print(f"overview panels:                   {overview * 1000:8.1f} ms  "
          f"({overview / anchor:.1f}x)")


if __name__ == "__main__":
    main()
