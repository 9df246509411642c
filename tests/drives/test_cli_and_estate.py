"""The drives CLI and the register-backed scan (on SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from mobilise.cli import context
from mobilise.cli import drives as drives_cli
from mobilise.core.clock import SystemClock
from mobilise.core.db import session_scope
from mobilise.drives import estate
from mobilise.drives.models import DriveScan
from mobilise.drives.remediate import REMEDIATION_DIR
from mobilise.people.models import Person
from tests.factories import load_people

runner = CliRunner()


def _home(root: Path, name: str, files: dict[str, bytes]) -> Path:
    home = root / name
    for rel, data in files.items():
        (home / rel).parent.mkdir(parents=True, exist_ok=True)
        (home / rel).write_bytes(data)
    return home


def test_assess_any_folder_without_a_database(tmp_path, monkeypatch):
    monkeypatch.setenv("MOBILISE_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    context.settings.cache_clear()
    home = _home(tmp_path, "h", {"a:b.txt": b"1", "Sub/Report.doc": b"1",
                                 "Sub/report.DOC": b"1", "fine.txt": b"22", "x.jar": b""})
    result = runner.invoke(drives_cli.app, ["assess", str(home), "--upn",
                                            "jo.bloggs@example.police.uk", "--format", "json"])
    context.settings.cache_clear()
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["upn"] == "jo.bloggs@example.police.uk"
    assert report["summary"]["files"] == 5 and report["summary"]["bytes"] == 5
    found = {(f["path"], f["kind"]): f for f in report["findings"]}
    assert set(found) == {("a:b.txt", "invalid_characters"), ("Sub/Report.doc", "case_collision"),
                          ("Sub/report.DOC", "case_collision"), ("x.jar", "blocked_type")}
    assert found[("a:b.txt", "invalid_characters")]["proposed_name"] == "a_b.txt"
    assert found[("Sub/report.DOC", "case_collision")]["proposed_name"] == "report (2).DOC"
    assert found[("Sub/Report.doc", "case_collision")]["action"] == "warning"
    assert found[("x.jar", "blocked_type")]["action"] == "cannot_move"
    assert found[("x.jar", "blocked_type")]["proposed_name"] is None


def test_assess_as_csv(tmp_path):
    home = _home(tmp_path, "h", {"=cmd|x.txt": b"1"})
    result = runner.invoke(drives_cli.app, ["assess", str(home), "--upn", "a@example.police.uk",
                                            "--format", "csv"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "path,kind,action,proposed_name,reason"
    assert lines[1].startswith("'=cmd|x.txt,invalid_characters,rename,'=cmd_x.txt")


def test_scan_people_records_readiness_and_orphans(settings, session, tmp_path):
    load_people(session, tmp_path, count=3)
    people = list(session.scalars(select(Person).order_by(Person.number)))
    root = settings.home_root
    _home(root, people[0].sam_account_name, {"Docs/a?.txt": b"abc", "Docs/ok.txt": b"12"})
    _home(root, people[1].sam_account_name, {"ok.txt": b"1"})
    _home(root, "leftlongago", {"old.txt": b"1"})
    settings = settings.model_copy(update={"home_template": str(root) + "/{sam}"})
    result = estate.scan_people(session, settings, people, SystemClock())
    session.commit()
    assert [m.person_key for m in result.discovery.without_drive] == [people[2].number]
    assert result.discovery.orphans == [str(root / "leftlongago")]
    scans = {s.person_id: s for s in session.scalars(select(DriveScan))}
    first = scans[people[0].id]
    assert (first.status, first.files, first.folders, first.bytes) == ("complete", 2, 1, 5)
    assert (first.to_rename, first.cannot_move, first.issues) == (1, 0,
                                                                  {"invalid_characters": 1})
    assert Path(first.inventory).is_file()
    latest = estate.latest_scans(session)
    assert [p.number for p, _ in latest] == [people[0].number, people[1].number]


def test_scan_and_report_commands(settings, session, tmp_path, monkeypatch):
    load_people(session, tmp_path, count=2)
    people = list(session.scalars(select(Person).order_by(Person.number)))
    root = settings.home_root
    _home(root, people[0].sam_account_name, {"CON": b"1", "x.txt": b"1234"})
    _home(root, people[1].sam_account_name, {"y.txt": b"1"})
    settings = settings.model_copy(update={"home_template": str(root) + "/{sam}"})
    monkeypatch.setattr(context, "settings", lambda: settings)
    monkeypatch.setattr(drives_cli, "settings", lambda: settings)

    scanned = runner.invoke(drives_cli.app, ["scan", "--all", "--format", "json"])
    assert scanned.exit_code == 0, scanned.output
    rows = json.loads(scanned.output[scanned.output.index("["):])
    assert sorted((r["person"], r["status"], r["files"]) for r in rows) == [
        (people[0].number, "complete", 2), (people[1].number, "complete", 1)]

    estate_report = runner.invoke(drives_cli.app, ["report", "--format", "json"])
    assert estate_report.exit_code == 0, estate_report.output
    summary = json.loads(estate_report.output)
    assert (summary["people"], summary["files"], summary["bytes"]) == (2, 3, 6)
    assert summary["issues_by_kind"] == {"blocked_name": 1}
    assert summary["by_org_unit"]["CE"]["people"] == 2

    one = runner.invoke(drives_cli.app, ["report", "--person", people[0].number,
                                         "--format", "json"])
    assert one.exit_code == 0, one.output
    report = json.loads(one.output)
    assert [(f["path"], f["kind"], f["proposed_name"]) for f in report["findings"]] == [
        ("CON", "blocked_name", "_CON")]
    mapping = list((settings.data_dir / REMEDIATION_DIR / people[0].number).glob("*.parquet"))
    assert len(mapping) == 1


def test_scan_needs_someone(sqlite_settings, monkeypatch):
    monkeypatch.setattr(context, "settings", lambda: sqlite_settings)
    result = runner.invoke(drives_cli.app, ["scan"])
    assert result.exit_code != 0
    assert "--person" in str(result.exception)


@pytest.mark.parametrize("fmt", ["table", "csv", "html"])
def test_report_formats_on_an_empty_estate(sqlite_settings, monkeypatch, fmt):
    monkeypatch.setattr(context, "settings", lambda: sqlite_settings)
    monkeypatch.setattr(drives_cli, "settings", lambda: sqlite_settings)
    with session_scope(sqlite_settings):
        pass
    result = runner.invoke(drives_cli.app, ["report", "--format", fmt])
    assert result.exit_code == 0, result.output
    assert "person_key" in result.output
