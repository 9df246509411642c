"""The estate as the drive scans saw it: each person's latest inventory, shaped for
retention evaluation, and the rule set in force.

A scan's inventory keeps raw path bytes and no person column (one file per drive); the
evaluation wants text paths and a ``person`` on every row. Paths are decoded the way the
local backend names files (``os.fsdecode``), so a decision's path is the path a migration
sync sees on the source.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilise.drives.estate import inventory_of, latest_scans
from mobilise.people.models import Person
from mobilise.retention.evaluate import Estate
from mobilise.retention.models import RuleSetStatus, RuleSetVersion

_COLUMNS = ["path", "name", "extension", "size", "created", "modified", "accessed", "kind",
            "depth"]


@dataclass
class ScannedEstate:
    estate: Estate
    people: list[Person]
    files: int


def active_rule_set(session: Session) -> RuleSetVersion | None:
    """The rule set in force: the most recently activated active version, if any."""
    return session.scalars(
        select(RuleSetVersion).where(RuleSetVersion.status == RuleSetStatus.ACTIVE.value)
        .order_by(RuleSetVersion.activated_at.desc(), RuleSetVersion.id.desc())).first()


def _inventory_table(person: Person, path: str) -> pa.Table:
    table = pq.read_table(path, columns=_COLUMNS)
    decoded = [os.fsdecode(raw) for raw in table.column("path").to_pylist()]
    table = table.set_column(0, "path", pa.array(decoded, pa.string()))
    return table.append_column("person", pa.array([person.number] * table.num_rows,
                                                  pa.string()))


def _people_table(people: Sequence[Person]) -> pa.Table:
    return pa.table({
        "person": pa.array([p.number for p in people], pa.string()),
        "org_unit": pa.array([p.org_unit.code if p.org_unit else None for p in people],
                             pa.string()),
        "status": pa.array([p.status for p in people], pa.string()),
        "left_on": pa.array([p.left_on for p in people], pa.date32()),
    })


def scanned_estate(session: Session, person_ids: Sequence[int] | None = None
                   ) -> ScannedEstate | None:
    """The latest complete scan of each person (or of those given); None if nobody has
    been scanned."""
    scans = [(p, s) for p, s in latest_scans(session, person_ids) if s.inventory]
    if not scans:
        return None
    tables = [_inventory_table(p, str(inventory_of(s))) for p, s in scans]
    inventory = pa.concat_tables(tables, promote_options="permissive")
    people = [p for p, _ in scans]
    return ScannedEstate(Estate.open(inventory, _people_table(people)), people,
                         inventory.num_rows)
