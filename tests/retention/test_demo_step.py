"""The demo activates the example rule set and dry-runs it over the drives it scanned."""

from __future__ import annotations

import re
from pathlib import Path

from mobilise.core.db import session_scope
from mobilise.core.settings import Settings
from mobilise.demo.drives import drives_step
from mobilise.demo.retention import retention_step
from mobilise.demo.run import STEPS, load_people
from mobilise.retention.scanned import active_rule_set


def test_demo_activates_the_example_rule_set_and_dry_runs_the_scanned_drives(
        sqlite_settings: Settings, tmp_path: Path) -> None:
    assert STEPS.index(retention_step) == STEPS.index(drives_step) + 1
    out = tmp_path / "demo"
    load_people(sqlite_settings, out, 30, 7)
    drives_step(sqlite_settings, out, 30, 7)
    note = retention_step(sqlite_settings, out, 30, 7)
    found = re.search(r"personal-files v1 in force; a dry run over ([\d,]+) files: (.*)", note)
    assert found, note
    assert int(found.group(1).replace(",", "")) > 0
    actions = dict(re.findall(r"(migrate|dispose|review|archive|hold) ([\d,]+)", found.group(2)))
    assert {"migrate", "dispose", "review"} <= set(actions)
    assert sum(int(n.replace(",", "")) for n in actions.values()) == \
        int(found.group(1).replace(",", ""))
    again = retention_step(sqlite_settings, out, 30, 7)  # a second run changes nothing
    assert again == note
    with session_scope(sqlite_settings) as s:
        row = active_rule_set(s)
        assert row is not None and (row.name, row.version) == ("personal-files", 1)
