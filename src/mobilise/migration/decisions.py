"""What a round takes from the other capabilities for each person: the drive assessment's
remediation mapping (old name → proposed name) from the latest scan.

Retention's per-file actions are not wired in yet: without them every file migrates
(``dispositions`` is None), which is what an operator gets today from ``migrate run``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow.parquet as pq

from mobilise.core.settings import Settings
from mobilise.drives.assess import Action
from mobilise.drives.remediate import REMEDIATION_DIR
from mobilise.migration.rounds import PlanInputs
from mobilise.people.models import Person


def remediation_renames(data_dir: Path, number: str) -> dict[str, str]:
    """Source path → remediated name for every entry the latest mapping renames. Paths
    are the inventory's raw bytes decoded as the local backend names them
    (``os.fsdecode``), so names that are not UTF-8 match too."""
    folder = Path(data_dir) / REMEDIATION_DIR / number
    mappings = sorted(folder.glob("*.parquet"), key=lambda p: p.stat().st_mtime_ns) \
        if folder.is_dir() else []
    if not mappings:
        return {}
    table = pq.read_table(mappings[-1], columns=["path", "action", "proposed_name"])
    renames = {}
    for raw, action, proposed in zip(table.column("path").to_pylist(),
                                     table.column("action").to_pylist(),
                                     table.column("proposed_name").to_pylist(), strict=True):
        if action == Action.RENAME.value and proposed:
            renames[os.fsdecode(raw)] = proposed
    return renames


def plan_inputs_from_estate(settings: Settings) -> PlanInputs:
    def inputs(person: Person) -> tuple[dict[str, str] | None, dict[str, str]]:
        return None, remediation_renames(settings.data_dir, person.number)

    return inputs
