"""``mobilise waves lifecycle`` end to end, as an operator types it."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.factories import ROSTER_HEADER, person_row, write_csv
from tests.migration.conftest import make_tree
from tests.migration.test_cli import run


def test_lifecycle_from_the_command_line(tmp_path: Path) -> None:
    flag = tmp_path / "acl-up"
    hook = tmp_path / "ro.sh"
    hook.write_text(f'#!/bin/sh\n[ -e {flag} ] || {{ echo "ACL tool offline"; exit 2; }}\n')
    hook.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOBILISE_")}
    env.update({"MOBILISE_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
                "MOBILISE_CONFIG": str(tmp_path / "none.toml"),
                "MOBILISE_DATA_DIR": str(tmp_path / "data"),
                "MOBILISE_HOME_ROOT": str(tmp_path / "home"),
                "MOBILISE_MIGRATION_DESTINATION": "local",
                "MOBILISE_MIGRATION_DESTINATION_ROOT": str(tmp_path / "onedrive"),
                "MOBILISE_ARCHIVE_ROOT": str(tmp_path / "archive"),
                "MOBILISE_AFTER_READ_ONLY_HOOK": str(hook),
                "MOBILISE_KFM_GROUP_ID": "kfm-group-1", "COLUMNS": "250"})
    run(["init"], env, tmp_path)
    units = write_csv(tmp_path / "u.csv", ["code", "name", "kind"], [["CE", "Central", "bcu"]])
    roster = write_csv(tmp_path / "r.csv", ROSTER_HEADER, [person_row(0)])
    run(["people", "import", str(roster), "--units", str(units)], env, tmp_path)
    home = tmp_path / "home" / "asmith0"
    home.mkdir(parents=True)
    make_tree(home, 5)
    run(["waves", "create", "W1", "--org-unit", "CE", "--delta-rounds", "0"], env, tmp_path)
    run(["migrate", "run", "W1"], env, tmp_path)
    run(["migrate", "cutover", "W1", "--confirm-frozen"], env, tmp_path)

    shown = json.loads(run(["waves", "lifecycle", "show", "W1", "--format", "json"], env,
                           tmp_path).stdout)
    assert [(r["person"], r["state"], r["next_step"]) for r in shown] == [
        ("100000", "migrated", "grace")]
    run(["waves", "lifecycle", "advance", "W1"], env, tmp_path)
    (home / "late.txt").write_text("offline copy synced late")
    swept = json.loads(run(["waves", "lifecycle", "sweep", "W1", "--format", "json"], env,
                           tmp_path).stdout)
    assert swept == [{"person": "100000", "late_files": 1, "first": "late.txt"}]

    early = run(["waves", "lifecycle", "advance", "W1", "--person", "100000"], env, tmp_path,
                ok=False)
    assert early.returncode == 1 and "not due until" in early.stdout
    failed = run(["waves", "lifecycle", "advance", "W1", "--person", "100000", "--reason",
                  "pilot", "--format", "json"], env, tmp_path, ok=False)
    assert failed.returncode == 1
    assert "exited with status 2: ACL tool offline" in json.loads(failed.stdout)[0]["reason"]
    flag.touch()
    run(["waves", "lifecycle", "advance", "W1", "--person", "100000", "--reason", "pilot"],
        env, tmp_path)
    shown = json.loads(run(["waves", "lifecycle", "show", "W1", "--format", "json"], env,
                           tmp_path).stdout)
    assert (shown[0]["state"], shown[0]["late_files"]) == ("read_only", 1)

    members = tmp_path / "kfm.csv"
    run(["waves", "lifecycle", "kfm", "W1", "--csv", str(members)], env, tmp_path)
    assert members.read_text().splitlines()[1].startswith("kfm-group-1,")
    released = json.loads(run(["waves", "lifecycle", "released", "--format", "json"], env,
                              tmp_path).stdout)
    assert (released[-1]["wave"], released[-1]["released_bytes"]) == ("total", 0)
    unknown = run(["waves", "lifecycle", "show", "nope"], env, tmp_path, ok=False)
    assert unknown.returncode != 0 and "Traceback" not in unknown.stderr
