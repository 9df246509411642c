"""What a round takes from the other capabilities for each person: the drive assessment's
remediation mapping (old name → proposed name) from the latest scan, and — when a
retention rule set is active — each file's action under it.

With a rule set in force, the person's latest inventory is evaluated with it (holds in
force applied, review decisions already taken applied on top): ``migrate`` files go to
OneDrive, ``archive`` files to the archive backend, ``review`` files wait (and block
cutover unless overridden), ``dispose`` files stay where they are until an approved
disposal batch deletes them. A held file is kept, so it migrates. A file the inventory
does not know (created after the scan) has no decision and waits, rather than moving on a
guess. Without an active rule set every file migrates (``dispositions`` is None).
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow.parquet as pq
from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilise.core.clock import Clock, SystemClock
from mobilise.core.settings import Settings
from mobilise.drives.assess import Action
from mobilise.drives.estate import latest_scans
from mobilise.drives.remediate import REMEDIATION_DIR
from mobilise.people.models import Person
from mobilise.retention import rule_sets
from mobilise.retention.evaluate import decisions_for
from mobilise.retention.holds import holds_in_force
from mobilise.retention.models import ReviewDecision, ReviewItem, ReviewStatus
from mobilise.retention.scanned import active_rule_set, scanned_estate, source_paths

# A review decision replaces the rule's action for that file.
_DECIDED = {ReviewDecision.KEEP_MIGRATE.value: "migrate",
            ReviewDecision.KEEP_ARCHIVE.value: "archive",
            ReviewDecision.DISPOSE.value: "dispose"}


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


class MigrationDecisions:
    """The :data:`PlanInputs` of a round: renames, and retention actions if a rule set is
    active (``rule_set`` names it; None means everything migrates)."""

    def __init__(self, settings: Settings, session: Session | None = None,
                 clock: Clock | None = None) -> None:
        self.settings = settings
        self.session = session
        self.clock = clock or SystemClock()
        row = active_rule_set(session) if session is not None else None
        self.rule_set_id = row.id if row is not None else None
        self.rule_set = f"{row.name} v{row.version}" if row is not None else None
        self.parsed = rule_sets.parsed(row) if row is not None else None

    def describe(self) -> str:
        if self.rule_set is None:
            return ("no retention rule set is active: every file migrates "
                    "(activate one with `mobilise retention activate`)")
        return (f"retention rule set {self.rule_set} decides each file: migrate, archive, "
                "review (waits) or dispose (not moved)")

    def __call__(self, person: Person) -> tuple[dict[str, str] | None, dict[str, str]]:
        renames = remediation_renames(self.settings.data_dir, person.number)
        return self.dispositions(person), renames

    def dispositions(self, person: Person) -> dict[str, str] | None:
        if self.parsed is None or self.session is None:
            return None
        scanned = scanned_estate(self.session, [person.id])
        if scanned is None:
            return {}  # never scanned: nothing has a decision, so everything waits
        decisions = decisions_for(scanned.estate, self.parsed, self.clock.now().date(),
                                  holds_in_force(self.session), person=person.number)
        # The evaluation knows non-UTF-8 names by their \xNN text; the sync by fsdecode.
        names = {}
        for _, scan in latest_scans(self.session, [person.id]):
            names = source_paths(scan.inventory) if scan.inventory else {}
        actions = {}
        for d in decisions:
            # A hold keeps the file, and keeping it means migrating it.
            action = "migrate" if d.action == "hold" else d.action
            actions[names.get(d.path, d.path)] = f"{action}:{d.rule}"
        actions.update(self._reviewed(person))
        return actions

    def _reviewed(self, person: Person) -> dict[str, str]:
        assert self.session is not None
        items = self.session.scalars(select(ReviewItem).where(
            ReviewItem.rule_set_id == self.rule_set_id, ReviewItem.person == person.number,
            ReviewItem.status == ReviewStatus.DECIDED.value))
        return {i.path: f"{_DECIDED[i.decision]}:{i.rule}" for i in items
                if i.decision in _DECIDED}


def plan_inputs_from_estate(settings: Settings, session: Session | None = None,
                            clock: Clock | None = None) -> MigrationDecisions:
    return MigrationDecisions(settings, session, clock)
