"""The migration CLI end to end, as an operator types it."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

from tests.factories import ROSTER_HEADER, person_row, write_csv
from tests.migration.conftest import make_tree, tree_snapshot


def run(args: list[str], env: dict[str, str], cwd: Path, ok: bool = True
        ) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "mobilise.cli.main", *args], env=env,
                            cwd=cwd, capture_output=True, text=True, timeout=120)
    if ok:
        assert result.returncode == 0, result.stderr + result.stdout
    return result


def test_wave_rounds_cutover_reports_and_spmt_tasks(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOBILISE_")}
    env.update({"MOBILISE_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
                "MOBILISE_CONFIG": str(tmp_path / "none.toml"),
                "MOBILISE_DATA_DIR": str(tmp_path / "data"),
                "MOBILISE_HOME_ROOT": str(tmp_path / "home"),
                "MOBILISE_MIGRATION_DESTINATION": "local",
                "MOBILISE_MIGRATION_DESTINATION_ROOT": str(tmp_path / "onedrive"),
                "MOBILISE_ARCHIVE_ROOT": str(tmp_path / "archive"), "COLUMNS": "250"})
    run(["init"], env, tmp_path)
    units = write_csv(tmp_path / "u.csv", ["code", "name", "kind"], [["CE", "Central", "bcu"]])
    roster = write_csv(tmp_path / "r.csv", ROSTER_HEADER, [person_row(i) for i in range(2)])
    run(["people", "import", str(roster), "--units", str(units)], env, tmp_path)
    snapshots = {}
    for n in range(2):
        home = tmp_path / "home" / f"asmith{n}"
        home.mkdir(parents=True)
        make_tree(home, 12, seed=n)
        snapshots[n] = tree_snapshot(home)

    run(["waves", "create", "W1", "--org-unit", "CE", "--delta-rounds", "1",
         "--schedule", "2026-12-01,2026-12-08,2026-12-15"], env, tmp_path)
    listed = json.loads(run(["waves", "list", "--format", "json"], env, tmp_path).stdout)
    assert listed == [{"name": "W1", "people": 2, "not_started": 2, "in_progress": 0,
                       "migrated": 0, "failed": 0, "rounds": "p/p/p", "review_people": 0,
                       "review_files": 0, "review_overdue": 0, "review_escalated": 0}]
    scan_env = {**env, "MOBILISE_HOME_TEMPLATE": str(tmp_path / "home" / "{sam}")}
    scanned = json.loads(run(["drives", "scan", "--wave", "W1", "--format", "json"], scan_env,
                             tmp_path).stdout)
    assert sorted(r["person"] for r in scanned) == ["100000", "100001"]
    assert [r["files"] for r in scanned] == [12, 12]
    first = run(["migrate", "run", "W1"], env, tmp_path)
    assert "no retention rule set is active: every file migrates" in first.stderr
    run(["migrate", "run", "W1"], env, tmp_path)
    refused = run(["migrate", "cutover", "W1"], env, tmp_path, ok=False)
    assert refused.returncode != 0 and "frozen" in refused.stderr
    out = json.loads(run(["migrate", "cutover", "W1", "--confirm-frozen", "--format", "json"],
                         env, tmp_path).stdout)
    assert [r["migrated"] for r in out] == [True, True]
    status = json.loads(run(["migrate", "status", "W1", "--format", "json"], env,
                            tmp_path).stdout)
    assert [s["state"] for s in status] == ["migrated", "migrated"]
    # The rounds and the cutover queued each stage's message; asked again, none is new.
    for stage in ("announcement", "readiness", "cutover", "completion"):
        again = json.loads(run(["waves", "notify", "W1", "--stage", stage, "--format",
                                "json"], env, tmp_path).stdout)
        assert (again["queued"], again["already"]) == (0, 2), again
    said = run(["waves", "notify", "W1", "--stage", "completion"], env, tmp_path)
    assert "wave 'W1': Completion: 0 queued, 2 queued before (job " in said.stderr
    wrong = run(["waves", "notify", "W1", "--stage", "goodbye"], env, tmp_path, ok=False)
    assert wrong.returncode != 0 and "--stage 'goodbye'" in wrong.stderr
    assert "Traceback" not in wrong.stderr
    outbox = json.loads(run(["comms", "queue", "--format", "json"], env, tmp_path).stdout)
    assert sorted(m["template"] for m in outbox) == sorted(
        ["wave_announcement", "readiness_report", "cutover_notice", "completion"] * 2)
    run(["migrate", "verify", "W1"], env, tmp_path)
    run(["migrate", "report", "W1", "--output", str(tmp_path / "reports")], env, tmp_path)
    with open(tmp_path / "reports" / "SummaryReport.csv", newline="") as f:
        summary = list(csv.DictReader(f))
    assert [row["Migrated items"] for row in summary] == ["12", "12"]
    assert (tmp_path / "reports" / "FailureSummary.csv").read_text().startswith("Source,")
    files = json.loads(run(["migrate", "report", "W1", "--person", "100000", "--format",
                            "json"], env, tmp_path).stdout)
    assert len(files) == 12 and {f["outcome"] for f in files} == {"verified"}

    run(["waves", "export-tasks", "W1", "-o", str(tmp_path / "tasks.csv")], env, tmp_path)
    with open(tmp_path / "tasks.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0][3] == "https://example-my.sharepoint.com/personal/alex0_smith_example_police_uk/"
    assert rows[0][4] == "Documents" and len(rows[0]) == 6
    run(["waves", "export-tasks", "W1", "-o", str(tmp_path / "tasks.json")], env, tmp_path)
    run(["waves", "create", "W2", "--tasks", str(tmp_path / "tasks.json")], env, tmp_path)
    shown = json.loads(run(["waves", "show", "W2", "--format", "json"], env, tmp_path).stdout)
    assert len(shown["rounds"]) == 3 and len(shown["people"]) == 2
    (tmp_path / "bad.csv").write_text("a,b,c\n")
    bad = run(["waves", "create", "W3", "--tasks", str(tmp_path / "bad.csv")], env, tmp_path,
              ok=False)
    assert "bad.csv:1:1" in bad.stderr
    for n in range(2):
        assert tree_snapshot(tmp_path / "home" / f"asmith{n}") == snapshots[n]


def test_migrate_run_applies_the_active_rule_set(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOBILISE_")}
    env.update({"MOBILISE_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
                "MOBILISE_CONFIG": str(tmp_path / "none.toml"),
                "MOBILISE_DATA_DIR": str(tmp_path / "data"),
                "MOBILISE_HOME_ROOT": str(tmp_path / "home"),
                "MOBILISE_HOME_TEMPLATE": str(tmp_path / "home" / "{sam}"),
                "MOBILISE_MIGRATION_DESTINATION": "local",
                "MOBILISE_MIGRATION_DESTINATION_ROOT": str(tmp_path / "onedrive"),
                "MOBILISE_ARCHIVE_ROOT": str(tmp_path / "archive"), "COLUMNS": "250"})
    run(["init"], env, tmp_path)
    units = write_csv(tmp_path / "u.csv", ["code", "name", "kind"], [["CE", "Central", "bcu"]])
    roster = write_csv(tmp_path / "r.csv", ROSTER_HEADER, [person_row(0)])
    run(["people", "import", str(roster), "--units", str(units)], env, tmp_path)
    home = tmp_path / "home" / "asmith0"
    (home / "Docs").mkdir(parents=True)
    (home / "Docs" / "plan.docx").write_bytes(b"plan")
    (home / "Docs" / "old.tmp").write_bytes(b"scratch")
    rules = tmp_path / "rules.yaml"
    rules.write_text("""rule_set: cli
version: 1
rules:
  - id: tmp-files
    title: Temporary files
    authority: Not a record
    action: dispose
    period: 0d
    select:
      extension: [tmp]
default:
  id: everything-else
  action: migrate
""", encoding="utf-8")
    run(["retention", "activate", str(rules), "--reason", "agreed"], env, tmp_path)
    run(["waves", "create", "W1", "--org-unit", "CE"], env, tmp_path)
    run(["drives", "scan", "--wave", "W1"], env, tmp_path)
    moved = run(["migrate", "run", "W1"], env, tmp_path)
    assert "retention rule set cli v1 decides each file" in moved.stderr
    onedrive = tmp_path / "onedrive" / "alex0.smith@example.police.uk"
    assert sorted(str(p.relative_to(onedrive)) for p in onedrive.rglob("*") if p.is_file()) \
        == ["Docs/plan.docx"]
    files = json.loads(run(["migrate", "report", "W1", "--person", "100000", "--format",
                            "json"], env, tmp_path).stdout)
    reasons = {f["path"]: f.get("reason") for f in files}
    assert reasons["Docs/old.tmp"] == "awaiting disposal under rule tmp-files"
