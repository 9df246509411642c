"""A uniqueness rule refusing a row (the loser of two concurrent creations) ends the CLI
like any other conflict: exit 5 and a sentence, not a traceback."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from mobilise.cli import context
from mobilise.cli import main as cli_main
from mobilise.core.errors import Conflict


@pytest.fixture(autouse=True)
def _settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("MOBILISE_DATABASE_URL", f"sqlite:///{tmp_path / 'm.db'}")
    monkeypatch.setenv("MOBILISE_DATA_DIR", str(tmp_path / "data"))
    context.settings.cache_clear()
    yield
    context.settings.cache_clear()


def test_a_unique_violation_exits_as_a_conflict(monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:

    def lost_race(**_: object) -> None:
        raise IntegrityError("INSERT ...", {}, sqlite3.IntegrityError(
            "UNIQUE constraint failed: retention_hold.reference"))

    monkeypatch.setattr(cli_main, "app", lost_race)
    with pytest.raises(SystemExit) as ended:
        cli_main.main()
    assert ended.value.code == Conflict.exit_code == 5
    assert "same change at the same moment" in capsys.readouterr().err


def test_another_integrity_error_is_not_disguised(monkeypatch: pytest.MonkeyPatch) -> None:

    def broken(**_: object) -> None:
        raise IntegrityError("INSERT ...", {}, sqlite3.IntegrityError(
            "FOREIGN KEY constraint failed"))

    monkeypatch.setattr(cli_main, "app", broken)
    with pytest.raises(IntegrityError):
        cli_main.main()
