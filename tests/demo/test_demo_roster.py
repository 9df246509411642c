"""The demo's roster names line managers: each unit's first person manages the rest."""

from __future__ import annotations

import csv
from pathlib import Path

from mobilise.demo.people import generate_roster


def test_each_unit_has_one_head_who_manages_everyone_else_in_it(tmp_path: Path) -> None:
    generate_roster(tmp_path / "roster.csv", people=60, seed=7, domain="example.police.uk")
    with (tmp_path / "roster.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    heads = {r["org_unit"]: r["number"] for r in reversed(rows)}  # the first in each unit
    for row in rows:
        head = heads[row["org_unit"]]
        assert row["line_manager"] == ("" if row["number"] == head else head)
    assert sum(1 for r in rows if r["line_manager"]) == len(rows) - len(heads)
