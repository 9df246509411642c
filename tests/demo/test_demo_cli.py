"""``mobilise demo`` as an operator runs it: everything under its folder, the CLI pointed
at it, the login kept, an existing demo served as it is, and the summary in words."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from mobilise.core.errors import InvalidInput
from mobilise.core.settings import Settings
from mobilise.demo.run import MARKER_FILE, demo_settings, rebuild_demo
from mobilise.demo.serving import TOML_MARK, emulator_running, write_config


def demo(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOBILISE_")}
    env["COLUMNS"] = "200"
    result = subprocess.run([sys.executable, "-m", "mobilise.cli.main", "demo", *args],
                            env=env, cwd=cwd, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr + result.stdout
    return result


def test_the_demo_writes_only_under_its_folder_and_is_served_again_as_it_is(
        tmp_path: Path) -> None:
    first = demo(["--people", "30", "--no-serve", "--dir", "dd"], tmp_path).stdout
    # Nothing outside --dir but the settings file the CLI picks up.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dd", "mobilise.toml"]
    assert (tmp_path / "dd" / "home").is_dir() and (tmp_path / "dd" / "mobilise.db").exists()
    config = (tmp_path / "mobilise.toml").read_text()
    assert config.startswith(TOML_MARK)
    assert f'database_url = "sqlite:///{tmp_path / "dd" / "mobilise.db"}"' in config
    assert f'home_root = "{tmp_path / "dd" / "home"}"' in config
    assert f'graph_ca_bundle = "{tmp_path / "dd" / "emulator" / "tls" / "ca.pem"}"' in config
    password_file = tmp_path / "dd" / "admin-password"
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    password = password_file.read_text().strip()
    assert f"admin / {password}" in first
    # Said in words, ending with where things are and what to run next.
    assert "{'" not in first and "staging_never_signed_in" not in first
    assert "enrolled_not_registered" not in first
    assert "8 of 8 people migrated" in first
    assert first.rstrip().splitlines()[-1].startswith("Serve it again: script/demo")
    assert "people list" in first and "source .venv/bin/activate" in first
    # The CLI reads the demo through mobilise.toml, from that folder.
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOBILISE_")}
    listed = subprocess.run([sys.executable, "-m", "mobilise.cli.main", "people", "list",
                             "--format", "csv"], env=env, cwd=tmp_path, capture_output=True,
                            text=True, timeout=120)
    assert listed.returncode == 0 and len(listed.stdout.splitlines()) == 31, listed.stderr
    # Run again: served as it is, with the same login, nothing regenerated.
    roster = (tmp_path / "dd" / "roster.csv").stat().st_mtime_ns
    again = demo(["--people", "30", "--no-serve", "--dir", "dd"], tmp_path).stdout
    assert "built already" in again and f"admin / {password}" in again
    assert (tmp_path / "dd" / "roster.csv").stat().st_mtime_ns == roster


def test_a_rebuild_clears_only_a_folder_the_demo_made(tmp_path: Path) -> None:
    settings = demo_settings(Settings(), tmp_path / "dd")
    mine = tmp_path / "mine"
    (mine / "keep").mkdir(parents=True)
    with pytest.raises(InvalidInput, match="not made by the demo"):
        rebuild_demo(settings, mine)
    assert (mine / "keep").is_dir()
    made = tmp_path / "dd"
    (made / "home").mkdir(parents=True)
    (made / MARKER_FILE).touch()
    rebuild_demo(settings, made)
    assert not made.exists()
    server = settings.model_copy(update={"database_url": "postgresql+psycopg://x@h/db"})
    made.mkdir()
    (made / MARKER_FILE).touch()
    with pytest.raises(InvalidInput, match="server database"):
        rebuild_demo(server, made)


def test_everything_the_demo_writes_is_under_its_folder(tmp_path: Path) -> None:
    out = tmp_path / "dd"
    settings = demo_settings(Settings(database_url="sqlite:///elsewhere.db"), out)
    for path in (settings.data_dir, settings.home_root, settings.archive_root,
                 settings.migration_destination_root):
        assert Path(path).is_relative_to(out)
    assert settings.database_url == f"sqlite:///{out / 'mobilise.db'}"
    assert settings.rollout_managed_before == 0


def test_the_served_demo_runs_the_graph_emulator_and_stops_it(tmp_path: Path) -> None:
    from mobilise.graph import GraphClient, ServiceUnreachable

    out = tmp_path / "dd"
    out.mkdir()
    settings = demo_settings(Settings(), out)
    with emulator_running(settings, out) as served:
        with GraphClient(served) as client:
            assert client.tokens.token()  # the token endpoint answers
        config = tmp_path / "mobilise.toml"
        os.environ["MOBILISE_CONFIG"], before = str(config), os.environ["MOBILISE_CONFIG"]
        try:
            path, written = write_config(served, out)
        finally:
            os.environ["MOBILISE_CONFIG"] = before
        assert written and path == config
        assert f'graph_url = "{served.graph_url}"' in config.read_text()
        url = served.graph_url
    with pytest.raises(httpx.ConnectError):
        httpx.get(url, verify=False, timeout=2)
    with GraphClient(served) as client, pytest.raises(ServiceUnreachable):
        client.tokens.token()


def test_someone_elses_mobilise_toml_is_left_alone(tmp_path: Path) -> None:
    own = tmp_path / "mobilise.toml"
    own.write_text('database_url = "postgresql+psycopg://me@db/prod"\n')
    out = tmp_path / "dd"
    out.mkdir()
    before = os.environ["MOBILISE_CONFIG"]
    os.environ["MOBILISE_CONFIG"] = str(own)
    try:
        path, written = write_config(demo_settings(Settings(), out), out)
    finally:
        os.environ["MOBILISE_CONFIG"] = before
    assert not written and own.read_text().startswith("database_url")
    assert (out / "mobilise.toml").read_text().startswith(TOML_MARK)
