"""Spend import and variance at scale.

Anchor: ``core.importer.read_rows`` on the same file (parse and validate only, no
database): the floor any spend import stands on. Measured against it, in the same run:
the full all-or-nothing import into SQLite (with the audit chain), and the variance query
over everything imported. Run: ``PYTHONPATH=src python bench/finance_spend.py [lines]``.
"""

from __future__ import annotations

import csv
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import mobilise.models  # noqa: F401  (every model mapped before the first flush)
from mobilise.core.actor import Actor
from mobilise.core.db import session_scope
from mobilise.core.importer import read_rows
from mobilise.core.settings import Settings
from mobilise.finance.decisions import record_decision
from mobilise.finance.importers import spend_spec
from mobilise.finance.papers import PAPERS
from mobilise.finance.spend import envelope_keys, import_spend
from mobilise.finance.variance import variance_lines
from mobilise.schema import upgrade_schema

BENCH = Actor("bench")


def write_spend(path: Path, lines: int) -> None:
    start = date(2022, 11, 1)
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["kind", "reference", "date", "supplier", "decision", "budget",
                      "amount", "order"])
        orders = max(lines // 10, 1)
        for n in range(orders):
            day = start + timedelta(days=n % 150)
            out.writerow(["order", f"PO-{n}", day.isoformat(), f"Supplier {n % 40}",
                          "PCD 1322", "capital" if n % 3 else "revenue", "1,000.00", ""])
        for n in range(lines - orders):
            order = n % orders
            day = start + timedelta(days=order % 150 + 20)
            out.writerow(["invoice", f"INV-{n}", day.isoformat(), f"Supplier {order % 40}",
                          "PCD 1322", "capital" if order % 3 else "revenue", "99.99",
                          f"PO-{order}"])


def timed(label: str, work: object) -> float:
    began = time.perf_counter()
    result = work() if callable(work) else None
    took = time.perf_counter() - began
    print(f"{label:<44} {took:8.3f}s  {result if result is not None else ''}")
    return took


def main() -> None:
    lines = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(database_url=f"sqlite:///{tmp}/bench.db", data_dir=Path(tmp))
        upgrade_schema(settings)
        with session_scope(settings) as s:
            for paper in PAPERS:
                record_decision(s, BENCH, paper)
            keys = envelope_keys(s)
        path = Path(tmp) / "spend.csv"
        write_spend(path, lines)
        print(f"{lines:,} spend lines")
        anchor = timed("anchor: read_rows (parse + validate)",
                       lambda: len(read_rows(path, spend_spec(keys))))

        def load() -> str:
            with session_scope(settings) as s:
                return str(import_spend(s, BENCH, path).summary())

        imported = timed("import_spend (validate + write + audit)", load)

        def variance() -> int:
            with session_scope(settings) as s:
                return len(variance_lines(s))

        query = timed("variance_lines over everything", variance)
        print(f"ratio import / anchor   {imported / anchor:6.2f}")
        print(f"ratio variance / anchor {query / anchor:6.2f}")


if __name__ == "__main__":
    main()
