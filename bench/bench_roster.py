"""Roster import at full size: 45,000 people into a fresh SQLite database.

Target (issue 2): under 15 s. Anchor, in the same run: a bare sqlite3 executemany of the
same rows into a table of the same columns, with no validation, reconciliation or audit,
so the ratio shows what validation and the audit chain cost.

    python bench/bench_roster.py [--people 45000]
"""

from __future__ import annotations

import argparse
import csv
import sqlite3
import tempfile
import time
from pathlib import Path

import mobilise.models  # noqa: F401  (every model mapped before the first flush)
from mobilise.core.actor import Actor
from mobilise.core.db import session_scope
from mobilise.core.settings import Settings
from mobilise.demo.people import generate_roster
from mobilise.people import roster
from mobilise.schema import upgrade_schema


def anchor(path: Path, db: Path) -> float:
    start = time.perf_counter()
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    conn = sqlite3.connect(db)
    conn.execute(f"CREATE TABLE person ({', '.join(c + ' TEXT' for c in rows[0])})")
    conn.executemany(f"INSERT INTO person VALUES ({', '.join('?' * len(rows[0]))})", rows[1:])
    conn.commit()
    conn.close()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=45_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        files = generate_roster(Path(tmp) / "roster.csv", people=args.people)
        settings = Settings(database_url=f"sqlite:///{tmp}/bench.db")
        upgrade_schema(settings)
        actor = Actor("bench")
        with session_scope(settings) as s:
            roster.import_units(s, actor, files.units)
            roster.import_sites(s, actor, files.sites)
        start = time.perf_counter()
        with session_scope(settings) as s:
            diff = roster.import_roster(s, actor, files.roster)
        ours = time.perf_counter() - start
        start = time.perf_counter()
        with session_scope(settings) as s:
            again = roster.import_roster(s, actor, files.roster)
        reimport = time.perf_counter() - start
        bare = anchor(files.roster, Path(tmp) / "anchor.db")
    print(f"people                     {args.people:>10,}")
    print(f"mobilise people import     {ours:>9.2f} s  ({diff.summary()['added']:,} added, "
          f"{args.people / ours:,.0f} rows/s)  target < 15 s: "
          f"{'met' if ours < 15 else 'MISSED'}")
    print(f"re-import (no changes)     {reimport:>9.2f} s  ({again.summary()['unchanged']:,} "
          "unchanged)")
    print(f"anchor: sqlite3 executemany {bare:>8.2f} s")
    print(f"ratio import / anchor      {ours / bare:>9.1f}x")


if __name__ == "__main__":
    main()
