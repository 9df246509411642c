"""Import a 30,000-line supplier manifest into a fresh database (target: under 20 s).

    PYTHONPATH=src python bench/bench_manifest.py [--lines 30000] [--database-url URL]

Anchors measured in the same run, so the ratios mean something on any machine:
  * validate: reading and validating the same file (check digits, duplicates, catalogue,
    register look-ups) without writing: the importer's floor;
  * raw insert: the same handset and SIM rows written with one executemany each into
    plain tables, without the ORM or the audit log: the database's floor.
The difference between the import and the two anchors is the cost of the ORM and of one
hash-chained audit entry per handset and per SIM.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert

import mobilise.models  # noqa: F401  (every model mapped before the first flush)
from mobilise.core.actor import SYSTEM
from mobilise.core.clock import SystemClock
from mobilise.core.db import session_scope
from mobilise.core.importer import read_rows
from mobilise.core.settings import Settings
from mobilise.devices import handsets, manifests
from mobilise.devices.identifiers import with_check_digit
from mobilise.devices.importers import Registered, folded_models, manifest_spec
from mobilise.schema import upgrade_schema

TARGET_SECONDS = 20.0


def write_manifest(path: Path, lines: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["PO", "IMEI", "IMEI2", "Serial", "Model", "ICCID"])
        for n in range(lines):
            w.writerow([f"PO-{n // 5000:03d}", with_check_digit(f"35{2 * n:012d}"),
                        with_check_digit(f"35{2 * n + 1:012d}"), f"R58N{n:08d}", "SM-A325F",
                        with_check_digit(f"894411{n:012d}")])


def validate_only(path: Path) -> float:
    empty = Registered(frozenset(), frozenset(), frozenset(), frozenset())
    start = time.perf_counter()
    read_rows(path, manifest_spec(folded_models([(1, "SM-A325F", "Galaxy A32")]), empty))
    return time.perf_counter() - start


def raw_insert(tmp: Path, path: Path) -> float:
    engine = create_engine(f"sqlite:///{tmp / 'raw.db'}")
    meta = MetaData()
    sims = Table("sim", meta, Column("id", Integer, primary_key=True),
                 Column("iccid", String(20), unique=True))
    phones = Table("handset", meta, Column("id", Integer, primary_key=True),
                   Column("imei", String(15), unique=True), Column("imei2", String(15),
                   unique=True), Column("serial", String(40), unique=True),
                   Column("purchase_order", String(40)), Column("sim_id", Integer))
    meta.create_all(engine)
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))[1:]
    start = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(insert(sims), [{"id": i + 1, "iccid": r[5]} for i, r in enumerate(rows)])
        conn.execute(insert(phones), [
            {"imei": r[1], "imei2": r[2], "serial": r[3], "purchase_order": r[0],
             "sim_id": i + 1} for i, r in enumerate(rows)])
    elapsed = time.perf_counter() - start
    engine.dispose()
    return elapsed


def import_manifest(settings: Settings, path: Path) -> float:
    with session_scope(settings) as s:
        handsets.add_model(s, SYSTEM, "SM-A325F", "Samsung", "Galaxy A32")
    start = time.perf_counter()
    with session_scope(settings) as s:
        result = manifests.import_manifest(s, SYSTEM, settings, path, clock=SystemClock())
    elapsed = time.perf_counter() - start
    assert result.handsets == result.sims
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=30_000)
    parser.add_argument("--database-url", default=None,
                        help="an empty database (default: a fresh SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        path = tmp / "manifest.csv"
        write_manifest(path, args.lines)
        settings = Settings(database_url=args.database_url or f"sqlite:///{tmp / 'm.db'}")
        upgrade_schema(settings)
        validate = validate_only(path)
        raw = raw_insert(tmp, path)
        full = import_manifest(settings, path)
    backend = settings.database_url.split(":", 1)[0]
    print(f"manifest of {args.lines:,} lines on {backend}")
    print(f"  anchor validate only    {validate:7.2f} s")
    print(f"  anchor raw insert       {raw:7.2f} s")
    print(f"  import (audited)        {full:7.2f} s   = {full / validate:5.1f} x validate, "
          f"{full / raw:5.1f} x raw insert, {args.lines / full:,.0f} lines/s")
    verdict = "meets" if full < TARGET_SECONDS else "MISSES"
    print(f"  target < {TARGET_SECONDS:.0f} s: {verdict} ({full / TARGET_SECONDS:.2f} of target)")
    return 0 if full < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
