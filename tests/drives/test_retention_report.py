"""A person's readiness report says what the retention rule set in force decides for their
files: in the CLI (json, table, csv, html), the API and the readiness page."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from mobilise.cli import context
from mobilise.cli import drives as drives_cli
from mobilise.core import auth
from mobilise.core.actor import Actor, Role
from mobilise.core.clock import SystemClock
from mobilise.core.db import session_scope
from mobilise.core.settings import Settings
from mobilise.drives import estate
from mobilise.people.models import Person
from mobilise.retention import holds, rule_sets
from mobilise.web.api.drives import router as api
from mobilise.web.app import create_app
from mobilise.web.pages.drives import router as pages
from tests.factories import ADMIN, load_people

RM = Actor("records-1", frozenset({Role.RECORDS}))
RULES = """
rule_set: report
version: 1
rules:
  - id: tmp-files
    title: Temporary files
    authority: test
    action: dispose
    period: 0d
    select:
      extension: [tmp]
  - id: media
    title: Music to review
    authority: test
    action: review
    period: 0d
    select:
      extension: [mp3]
default:
  id: everything-else
  action: migrate
"""
FILES = {"Documents/report.docx": b"quarterly", "scratch/a.tmp": b"temporary",
         "scratch/b.tmp": b"tmp", "Music/song.mp3": b"la la la", "Music/tune.mp3": b"do re"}
runner = CliRunner()


@pytest.fixture
def scanned(sqlite_settings: Settings, tmp_path: Path) -> tuple[Settings, str, dict[str, str]]:
    settings = sqlite_settings.model_copy(update={
        "home_template": str(sqlite_settings.home_root) + "/{sam}"})
    with session_scope(settings) as s:
        load_people(s, tmp_path, count=1)
        person = s.scalars(select(Person)).one()
        home = settings.home_root / (person.sam_account_name or "")
        for rel, data in FILES.items():
            (home / rel).parent.mkdir(parents=True, exist_ok=True)
            (home / rel).write_bytes(data)
            os.utime(home / rel, (1_700_000_000, 1_700_000_000))
        estate.scan_people(s, settings, [person], SystemClock())
        user = auth.add_user(s, ADMIN, "migration", "correct horse battery", ["migration"])
        s.flush()
        headers = {"Authorization": f"Bearer {auth.issue_token(s, ADMIN, user, 't')}"}
        return settings, person.number, headers


def _activate(settings: Settings) -> None:
    with session_scope(settings) as s:
        rule_sets.add_rule_set(s, RM, RULES)
        rule_sets.activate(s, RM, "report", 1, reason="test")


def _report(settings: Settings, number: str, monkeypatch: pytest.MonkeyPatch,
            *args: str) -> str:
    monkeypatch.setattr(context, "settings", lambda: settings)
    monkeypatch.setattr(drives_cli, "settings", lambda: settings)
    result = runner.invoke(drives_cli.app, ["report", "--person", number, *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_the_report_says_every_file_migrates_without_a_rule_set(
        scanned: tuple[Settings, str, dict[str, str]], monkeypatch: pytest.MonkeyPatch) -> None:
    settings, number, _ = scanned
    report = json.loads(_report(settings, number, monkeypatch, "--format", "json"))
    assert report["retention"]["rule_set"] is None
    assert "every file migrates" in report["retention"]["note"]
    assert "every file migrates" in _report(settings, number, monkeypatch)


def test_the_cli_report_gives_the_rule_sets_decisions(
        scanned: tuple[Settings, str, dict[str, str]], monkeypatch: pytest.MonkeyPatch) -> None:
    settings, number, _ = scanned
    _activate(settings)
    with session_scope(settings) as s:  # a hold keeps one temporary file
        holds.place_hold(s, RM, "LIT-1", "litigation", "claim", selector="{name: b.tmp}")
    retention = json.loads(_report(settings, number, monkeypatch, "--format", "json"))[
        "retention"]
    assert (retention["rule_set"], retention["version"]) == ("report", 1)
    assert {r["action"]: (r["files"], r["bytes"]) for r in retention["by_action"]} == {
        "migrate": (1, 9), "dispose": (1, 9), "review": (2, 13), "hold": (1, 3)}
    assert {(r["rule"], r["action"]): r["files"] for r in retention["by_rule"]} == {
        ("everything-else", "migrate"): 1, ("tmp-files", "dispose"): 1,
        ("tmp-files", "hold"): 1, ("media", "review"): 2}
    assert [f["path"] for f in retention["review"]] == ["Music/song.mp3", "Music/tune.mp3"]
    assert [(f["path"], f["rule"]) for f in retention["dispose"]] == [
        ("scratch/a.tmp", "tmp-files")]

    table = _report(settings, number, monkeypatch)
    assert "retention: report v1" in table and "2 files to review, 1 to dispose" in table
    rows = list(csv.DictReader(io.StringIO(_report(settings, number, monkeypatch, "--format",
                                                   "csv", "--section", "retention"))))
    assert [(r["path"], r["action"]) for r in rows] == [
        ("Music/song.mp3", "review"), ("Music/tune.mp3", "review"), ("scratch/a.tmp", "dispose")]
    findings = _report(settings, number, monkeypatch, "--format", "csv")
    assert findings.splitlines()[0] == "path,kind,action,proposed_name,reason"
    html = _report(settings, number, monkeypatch, "--format", "html")
    assert "<caption>retention: report v1" in html and "<td>scratch/a.tmp</td>" in html


def test_the_api_and_the_readiness_page_give_them_too(
        scanned: tuple[Settings, str, dict[str, str]]) -> None:
    settings, number, headers = scanned
    _activate(settings)
    app = create_app(settings)
    app.include_router(api)
    app.include_router(pages)
    with TestClient(app) as client:
        report = client.get(f"/api/v1/drives/people/{number}", headers=headers)
        assert report.status_code == 200, report.text
        retention = report.json()["retention"]
        assert {r["action"]: r["files"] for r in retention["by_action"]} == {
            "migrate": 1, "dispose": 2, "review": 2}
        page = client.get(f"/drives/people/{number}", headers=headers)
        assert page.status_code == 200
        assert "What the retention rules decide" in page.text and "report v1" in page.text
        assert "List the 2 files the rules send to review" in page.text
        review = client.get(f"/drives/people/{number}", params={"show": "review"},
                            headers=headers)
        assert "<code>Music/tune.mp3</code>" in review.text
        dispose = client.get(f"/drives/people/{number}", params={"show": "dispose"},
                             headers=headers)
        assert "<code>scratch/b.tmp</code>" in dispose.text
        bad = client.get(f"/drives/people/{number}", params={"show": "everything"},
                         headers=headers)
        assert bad.status_code == 422
