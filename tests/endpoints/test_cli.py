"""``mobilise endpoints`` as an operator types it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mobilise.cli import context
from mobilise.cli.endpoints import app
from mobilise.comms.templates import ensure_defaults
from mobilise.core.db import session_scope
from mobilise.core.errors import ImportRejected
from mobilise.core.settings import Settings
from mobilise.migration.waves import WaveSelection, create_wave
from tests.factories import ADMIN, load_people

runner = CliRunner()


@pytest.fixture
def workdir(tmp_path: Path, sqlite_settings: Settings, monkeypatch: pytest.MonkeyPatch
            ) -> Iterator[Path]:
    monkeypatch.setenv("MOBILISE_DATABASE_URL", sqlite_settings.database_url)
    monkeypatch.setenv("MOBILISE_CONFIG", str(tmp_path / "none.toml"))
    context.settings.cache_clear()
    with session_scope(sqlite_settings) as s:
        load_people(s, tmp_path, count=3)
        ensure_defaults(s, ADMIN)
        create_wave(s, ADMIN, "W", WaveSelection(people=["100000", "100001"]), delta_rounds=0,
                    schedule=[None, datetime(2026, 12, 1, 18, tzinfo=UTC)])
    yield tmp_path
    context.settings.cache_clear()


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_import_list_notify_override(workdir: Path) -> None:
    export = workdir / "sccm.csv"
    export.write_text("Computer,User,LastSync\nLT-0,FORCE\\asmith0,30/11/2026 12:00\n"
                      "LT-1,FORCE\\asmith1,02/12/2026 12:00\n")
    with pytest.raises(ImportRejected, match="missing column 'device'"):
        runner.invoke(app, ["import", str(export)], catch_exceptions=False)
    out = invoke("import", str(export), "--map", "Computer=device", "--map",
                 "User=primary_user", "--map", "LastSync=last_sync")
    assert "2 laptops added" in out
    rows = json.loads(invoke("list", "--wave", "W", "-f", "json"))
    assert {(r["person"], r["state"]) for r in rows} == {
        ("100000", "not synced since the freeze"), ("100001", "synced")}
    held = json.loads(invoke("list", "--wave", "W", "--held", "-f", "json"))
    assert [r["device"] for r in held] == ["LT-0"]
    assert "1 messages queued (0 queued before)" in invoke("notify", "W")
    assert "0 messages queued (1 queued before)" in invoke("notify", "W")
    invoke("override", "W", "100000", "--reason", "laptop in repair; user confirmed")
    assert json.loads(invoke("list", "--wave", "W", "--held", "-f", "json")) == []
