"""The demo activates the example rule set and dry-runs it over the drives it scanned."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from mobilise.core.actor import Actor
from mobilise.core.db import session_scope
from mobilise.core.settings import Settings
from mobilise.demo.drives import drives_step
from mobilise.demo.retention import retention_step
from mobilise.demo.run import STEPS, load_people
from mobilise.retention.dry_run import SCANNED, DryRun, record, recorded
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
        # Recorded: the dry-run page shows it without evaluating the drives again.
        kept = recorded(s, row.name, row.version, row.content_hash)
        assert kept is not None and kept.actor == "demo-records-manager"
        assert kept.result.files == int(found.group(1).replace(",", ""))
        assert {r["action"] for r in kept.result.tables["by_action"]} >= {"migrate", "review"}
        assert kept.result.tables["by_org_unit"] and kept.result.tables["by_rule"]
        # A later dry run of other inventories (the CLI's -i), or of other content under
        # the same name and version, is not this version's dry run of the scanned drives.
        other = DryRun(row.name, row.version, row.content_hash, date(2030, 1, 1), 1, 1)
        record(s, Actor("cli"), other)
        record(s, Actor("cli"), DryRun(row.name, row.version, "0" * 64, date(2030, 1, 1), 2, 2),
               estate=SCANNED)
        again_kept = recorded(s, row.name, row.version, row.content_hash)
        assert again_kept is not None and again_kept.actor == "demo-records-manager"
        assert recorded(s, row.name, row.version + 1, row.content_hash) is None
