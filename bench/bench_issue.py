"""Hand over 10,000 handsets in one bulk run (the fleet issued before the rollout).

    PYTHONPATH=src python bench/bench_issue.py [--handsets 10000] [--database-url URL]

The register holds ``--handsets`` enrolled, compliant handsets in stock (with SIMs) and
half as many people again; the timed part is the hand-over alone.

Anchor measured in the same run, so the ratio means something on any machine:
  * one by one: ``issue_handset`` (the service desk's path, one transition run per
    handset) over the first 500 handsets, as a rate per handset.
Then ``issue_many`` over the rest: the same guards, one transaction, batched statements,
one audit entry per handset, seat, acceptance and kit.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import select

import mobilise.models  # noqa: F401  (every model mapped before the first flush)
from mobilise.core.actor import SYSTEM
from mobilise.core.audit import verify
from mobilise.core.clock import SystemClock
from mobilise.core.db import session_scope
from mobilise.core.settings import Settings
from mobilise.demo.people import generate_roster
from mobilise.devices import handsets, manifests
from mobilise.devices.identifiers import with_check_digit
from mobilise.devices.models import Handset
from mobilise.people import roster
from mobilise.people.models import Person, PersonStatus
from mobilise.schema import upgrade_schema

ONE_BY_ONE = 500


def prepare(settings: Settings, tmp: Path, count: int) -> None:
    """People, a catalogue and ``count`` handsets in stock, through the real operations."""
    files = generate_roster(tmp / "roster.csv", people=count * 3 // 2, seed=1322,
                            domain=settings.email_domain)
    with session_scope(settings) as s:
        roster.import_units(s, SYSTEM, files.units)
        roster.import_sites(s, SYSTEM, files.sites)
    with session_scope(settings) as s:
        roster.import_roster(s, SYSTEM, files.roster)
    path = tmp / "fleet.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["PO", "IMEI", "Serial", "Model", "ICCID"])
        for n in range(count):
            w.writerow(["PO-FLEET", with_check_digit(f"35{n:012d}"), f"R58N{n:08d}",
                        "SM-A325F", with_check_digit(f"894411{n:012d}")])
    clock = SystemClock()
    with session_scope(settings) as s:
        handsets.add_model(s, SYSTEM, "SM-A325F", "Samsung", "Galaxy A32")
        handsets.add_pool(s, SYSTEM, "NM-1", count)
        handsets.add_kit(s, SYSTEM, "KIT-A32", "A32 kit")
        s.flush()
        manifests.import_manifest(s, SYSTEM, settings, path, clock=clock)
        s.flush()
        stock = list(s.scalars(select(Handset).order_by(Handset.id)))
        for name, params in (("stage", {}), ("enrol", {"compliance": "compliant"}),
                             ("stock", {})):
            handsets.move_handsets(s, SYSTEM, settings, clock, name, stock, **params)


def issue(settings: Settings, count: int) -> tuple[float, float]:
    clock = SystemClock()
    with session_scope(settings) as s:
        people = list(s.scalars(select(Person).where(
            Person.eligible.is_(True), Person.status == PersonStatus.ACTIVE.value)
            .order_by(Person.id).limit(count)))
        stock = list(s.scalars(select(Handset).order_by(Handset.id)))
        assert len(people) == count, f"only {len(people)} eligible people for {count}"
        kit = handsets.get_kit(s, "KIT-A32")
        start = time.perf_counter()
        for h, p in zip(stock[:ONE_BY_ONE], people[:ONE_BY_ONE], strict=True):
            handsets.issue_handset(s, SYSTEM, settings, clock, h, p, method="paper", kit=kit)
        s.flush()
        one = (time.perf_counter() - start) / ONE_BY_ONE
        start = time.perf_counter()
        handsets.issue_many(s, SYSTEM, settings, clock,
                            list(zip(stock[ONE_BY_ONE:], people[ONE_BY_ONE:], strict=True)),
                            method="paper", kit=kit)
        s.flush()
        bulk = time.perf_counter() - start
    with session_scope(settings) as s:
        verify(s)
    return one, bulk


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--handsets", type=int, default=10_000)
    parser.add_argument("--database-url", default=None,
                        help="an empty database (default: a fresh SQLite file)")
    args = parser.parse_args()
    if args.handsets <= ONE_BY_ONE:
        parser.error(f"--handsets must be more than {ONE_BY_ONE}")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        settings = Settings(database_url=args.database_url or f"sqlite:///{tmp / 'i.db'}")
        upgrade_schema(settings)
        prepare(settings, tmp, args.handsets)
        one, bulk = issue(settings, args.handsets)
    backend = settings.database_url.split(":", 1)[0]
    rest = args.handsets - ONE_BY_ONE
    print(f"hand-over of {args.handsets:,} handsets on {backend}")
    print(f"  anchor one by one       {one * 1000:7.1f} ms a handset "
          f"({one * rest:,.1f} s for {rest:,})")
    print(f"  issue_many              {bulk:7.2f} s for {rest:,}   = "
          f"{one * rest / bulk:5.1f} x faster, {rest / bulk:,.0f} handsets/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
