"""``mobilise devices / sims / licences`` end to end through the real command."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mobilise.cli import context
from mobilise.cli.main import app
from mobilise.core.errors import MobiliseError
from mobilise.core.settings import Settings
from tests.devices.fleet import iccid, imei, manifest_row, write_manifest


@pytest.fixture
def cli(sqlite_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("MOBILISE_DATABASE_URL", sqlite_settings.database_url)
    context.settings.cache_clear()
    yield CliRunner()
    context.settings.cache_clear()


def run(runner: CliRunner, *args: str, code: int = 0) -> str:
    """The output, or (for ``code``) the message of the error that ``main`` maps to it."""
    result = runner.invoke(app, list(args))
    if code:
        assert isinstance(result.exception, MobiliseError), result.output
        assert result.exception.exit_code == code
        return result.exception.message
    assert result.exit_code == 0, result.output
    return result.output


def test_delivery_to_loss_from_the_terminal(cli: CliRunner, tmp_path: Path) -> None:
    run(cli, "devices", "add-model", "SM-A325F", "Samsung", "Galaxy A32")
    run(cli, "licences", "add-pool", "NM-1", "10")
    path = write_manifest(tmp_path / "d.csv", [manifest_row(n) for n in range(3)])
    assert "would register 3 handsets" in run(cli, "devices", "import-manifest", str(path),
                                              "--dry-run")
    assert "registered 3 handsets and 3 SIMs" in run(cli, "devices", "import-manifest",
                                                     str(path))
    ids = tmp_path / "imeis.txt"
    ids.write_text("IMEI\n" + "\n".join(imei(n) for n in range(3)) + "\n")
    assert "3 handset(s) moved to staged" in run(cli, "devices", "transition", "stage",
                                                 "--file", str(ids))
    out = run(cli, "devices", "transition", "lose", imei(0), code=5)
    assert "handset 1: needs the police reference" in out
    run(cli, "devices", "transition", "lose", imei(0), "--police-reference", "CAD 9/23")
    out = run(cli, "devices", "actions", "--format", "csv")
    assert "wipe,queued" in out and "bar_sim,queued" in out
    out = run(cli, "devices", "show", imei(0), "--format", "json")
    assert '"status": "lost"' in out and '"police_reference": "CAD 9/23"' in out
    assert "managed devices,3" in run(cli, "devices", "capacity", "--format", "csv")
    out = run(cli, "sims", "list", "--format", "csv")
    assert iccid(1) in out
    out = run(cli, "licences", "list", "--format", "csv")
    assert "NM-1" in out
    export = tmp_path / "ids.csv"
    run(cli, "devices", "export-identifiers", str(export))
    assert export.read_text().splitlines()[0].startswith(imei(0) + ",SM-A325F")


def test_bad_manifest_exits_2_naming_the_line(cli: CliRunner, tmp_path: Path) -> None:
    run(cli, "devices", "add-model", "SM-A325F", "Samsung", "Galaxy A32")
    rows = [manifest_row(n) for n in range(3)]
    rows[2][4] = "SM-X999"
    path = write_manifest(tmp_path / "d.csv", rows)
    out = run(cli, "devices", "import-manifest", str(path), code=2)
    assert "d.csv:4:5: unknown model 'SM-X999'" in out
