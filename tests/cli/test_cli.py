"""The CLI end to end, as an operator types it, on a real database file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.factories import ROSTER_HEADER, person_row, write_csv


def run(args: list[str], env: dict[str, str], cwd: Path, ok: bool = True
        ) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "mobilise.cli.main", *args], env=env,
                            cwd=cwd, capture_output=True, text=True, timeout=120)
    if ok:
        assert result.returncode == 0, result.stderr + result.stdout
    return result


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("MOBILISE_")}
    e["MOBILISE_DATABASE_URL"] = f"sqlite:///{tmp_path / 'cli.db'}"
    e["MOBILISE_CONFIG"] = str(tmp_path / "none.toml")
    e["MOBILISE_SECRET_KEY"] = "very-secret-value"
    e["COLUMNS"] = "200"
    return e


def test_init_twice_import_list_show_verify(env: dict[str, str], tmp_path: Path) -> None:
    first = run(["init"], env, tmp_path).stdout
    assert first.startswith("schema at revision ")
    assert run(["init"], env, tmp_path).stdout == first
    run(["demo", "generate", "--people", "40", "--out", str(tmp_path / "r.csv")], env, tmp_path)
    out = run(["people", "import", str(tmp_path / "r.csv"), "--units",
               str(tmp_path / "org_units.csv"), "--sites", str(tmp_path / "sites.csv")],
              env, tmp_path)
    assert "40 added" in out.stderr
    listed = json.loads(run(["people", "list", "--format", "json", "--limit", "100"], env,
                            tmp_path).stdout)
    assert len(listed) == 40
    csv_out = run(["people", "list", "--format", "csv", "--limit", "3"], env, tmp_path).stdout
    assert csv_out.splitlines()[0].startswith("number,name,kind")
    number = listed[0]["number"]
    shown = json.loads(run(["people", "show", number, "--format", "json"], env, tmp_path).stdout)
    assert shown[0]["number"] == number
    assert "audit chain intact" in run(["audit", "verify"], env, tmp_path).stdout
    log = json.loads(run(["audit", "log", "--format", "json", "--limit", "5"], env,
                         tmp_path).stdout)
    assert log[0]["action"] == "person.add"


def test_import_errors_exit_non_zero_and_change_nothing(env: dict[str, str],
                                                        tmp_path: Path) -> None:
    run(["init"], env, tmp_path)
    units = write_csv(tmp_path / "u.csv", ["code", "name", "kind"], [["CE", "Central", "bcu"]])
    bad = write_csv(tmp_path / "bad.csv", ROSTER_HEADER,
                    [person_row(1), person_row(1, upn="x@y.zz"), person_row(3, email="nope")])
    result = run(["people", "import", str(bad), "--units", str(units)], env, tmp_path, ok=False)
    assert result.returncode == 2
    assert "bad.csv:3:1: duplicate number '100001' (also on line 2)" in result.stderr
    assert "bad.csv:4:5: email: 'nope' is not a valid email address" in result.stderr
    listed = json.loads(run(["people", "list", "--format", "json"], env, tmp_path).stdout)
    assert listed == []


def test_dry_run_and_leavers(env: dict[str, str], tmp_path: Path) -> None:
    run(["init"], env, tmp_path)
    units = write_csv(tmp_path / "u.csv", ["code", "name", "kind"], [["CE", "Central", "bcu"]])
    first = write_csv(tmp_path / "a.csv", ROSTER_HEADER, [person_row(i) for i in range(3)])
    run(["people", "import", str(first), "--units", str(units)], env, tmp_path)
    second = write_csv(tmp_path / "b.csv", ROSTER_HEADER, [person_row(0)])
    dry = run(["people", "import", str(second), "--dry-run", "--format", "json"], env, tmp_path)
    assert {r["change"] for r in json.loads(dry.stdout)} == {"leaver"}
    active = json.loads(run(["people", "list", "--status", "active", "--format", "json"], env,
                            tmp_path).stdout)
    assert len(active) == 3
    # Two of three leaving looks like a truncated file: refused until confirmed.
    refused = run(["people", "import", str(second)], env, tmp_path, ok=False)
    assert refused.returncode == 2
    assert "--allow-mass-leavers" in refused.stderr and "Traceback" not in refused.stderr
    run(["people", "import", str(second), "--allow-mass-leavers"], env, tmp_path)
    leavers = json.loads(run(["people", "list", "--status", "leaver", "--format", "json"], env,
                             tmp_path).stdout)
    assert sorted(p["number"] for p in leavers) == ["100001", "100002"]


def test_config_show_masks_secrets(env: dict[str, str], tmp_path: Path) -> None:
    out = run(["config", "show", "--format", "json"], env, tmp_path).stdout
    values = {r["setting"]: r["value"] for r in json.loads(out)}
    assert values["secret_key"] == "********"
    assert "very-secret-value" not in out


def test_users_and_tokens(env: dict[str, str], tmp_path: Path) -> None:
    run(["init"], env, tmp_path)
    env2 = {**env, "MOBILISE_NEW_PASSWORD": "a long enough password"}
    run(["users", "add", "rm1", "--roles", "records,viewer"], env2, tmp_path)
    bad = run(["users", "add", "x", "--roles", "wizard"], env2, tmp_path, ok=False)
    assert bad.returncode == 2 and "unknown role 'wizard'" in bad.stderr
    token = run(["users", "token", "rm1"], env, tmp_path).stdout.strip()
    assert token.startswith("mob_")
    users = json.loads(run(["users", "list", "--format", "json"], env, tmp_path).stdout)
    assert users == [{"username": "rm1", "name": "rm1", "roles": "records,viewer",
                      "active": True, "person": None, "entra": False, "tokens": 1}]
    log = run(["audit", "log", "--format", "json"], env, tmp_path).stdout
    assert token not in log and "a long enough password" not in log


def test_audit_verify_fails_after_tampering(env: dict[str, str], tmp_path: Path) -> None:
    import sqlite3

    run(["init"], env, tmp_path)
    units = write_csv(tmp_path / "u.csv", ["code", "name", "kind"], [["CE", "Central", "bcu"]])
    roster = write_csv(tmp_path / "a.csv", ROSTER_HEADER, [person_row(i) for i in range(3)])
    run(["people", "import", str(roster), "--units", str(units)], env, tmp_path)
    with sqlite3.connect(tmp_path / "cli.db") as db:
        db.execute("UPDATE audit_log SET actor = 'someone else' WHERE seq = 2")
    result = run(["audit", "verify"], env, tmp_path, ok=False)
    assert result.returncode == 6
    assert "audit entry 2 was altered" in result.stderr
