"""The demo's retention step: the example rule set for personal files is added and made
active by a records manager, then dry-run over every drive the drives step scanned."""

from __future__ import annotations

from pathlib import Path

from mobilise.core.actor import Actor, Role
from mobilise.core.clock import SystemClock
from mobilise.core.db import session_scope
from mobilise.core.settings import Settings
from mobilise.core.words import label, size_text
from mobilise.retention import rule_sets
from mobilise.retention.models import RuleSetStatus
from mobilise.retention.scanned import record_scanned_dry_run

EXAMPLE = Path(__file__).parent.parent / "retention" / "examples" / "personal-files.yaml"
RECORDS_MANAGER = Actor("demo-records-manager", frozenset({Role.RECORDS}))


def retention_step(settings: Settings, out_dir: Path, people: int, seed: int) -> str:
    clock = SystemClock()
    with session_scope(settings) as s:
        row = rule_sets.add_rule_set(s, RECORDS_MANAGER, EXAMPLE.read_text(encoding="utf-8"),
                                     file=str(EXAMPLE), clock=clock)
        if row.status == RuleSetStatus.DRAFT.value:  # a second demo run finds it active
            rule_sets.activate(s, RECORDS_MANAGER, row.name, row.version,
                               reason="the demo's example rule set", clock=clock)
        # Recorded: the dry-run page and the overview show it without evaluating again.
        result = record_scanned_dry_run(s, RECORDS_MANAGER, row, clock.now().date())
        name = f"{row.name} v{row.version}"
    if result is None:
        return f"Retention: rule set {name} in force; no drive scanned, so no dry run"
    actions = ", ".join(f"{label(r['action'])} {r['files']:,} "
                        f"file{'' if r['files'] == 1 else 's'} ({size_text(r['bytes'])})"
                        for r in result.tables["by_action"])
    return f"Retention: rule set {name} in force; a dry run over {result.files:,} files: {actions}"
