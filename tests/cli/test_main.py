"""The ``mobilise`` entry point itself: what it imports to answer, how it answers usage
errors and a database without schema, and listings that say when they show a part."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from mobilise.cli import context
from mobilise.cli.main import NOUNS, app, load_noun
from mobilise.core.db import make_engine
from mobilise.core.errors import DatabaseNotReady
from mobilise.core.settings import Settings
from tests.factories import load_people

HEAVY = ["sqlalchemy", "pyarrow", "duckdb", "httpx", "numpy", "pydantic",
         "mobilise.emulator", "mobilise.core.db", "mobilise.people", "mobilise.devices"]


def clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOBILISE_")}
    env["MOBILISE_CONFIG"] = str(tmp_path / "none.toml")
    env["COLUMNS"] = "200"
    return env


def mobilise(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mobilise.cli.main", *args],
                          env=clean_env(tmp_path), cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)


# --- what answering costs ---------------------------------------------------------------


@pytest.mark.parametrize("args", [None, ["--help"], ["version"]])
def test_help_and_version_import_no_domain_and_no_heavy_library(
        tmp_path: Path, args: list[str] | None) -> None:
    script = (
        "import json, sys\n"
        "from mobilise.cli.main import main\n"
        f"args = {args!r}\n"
        "if args is not None:\n"
        "    try:\n"
        "        main(args)\n"
        "    except SystemExit as done:\n"
        "        assert done.code in (0, None), done.code\n"
        f"print(json.dumps(sorted(set({HEAVY!r}) & set(sys.modules))))\n")
    done = subprocess.run([sys.executable, "-c", script], env=clean_env(tmp_path),
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == []


def test_hash_reads_no_settings_and_opens_no_database(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"hello")
    script = (
        "import json, sys\n"
        "from mobilise.cli.main import main\n"
        "try:\n"
        "    main(['hash', 'a.txt'])\n"
        "except SystemExit as done:\n"
        "    assert done.code in (0, None), done.code\n"
        "print(json.dumps(sorted({'sqlalchemy', 'pydantic_settings', 'mobilise.core.settings',"
        " 'duckdb', 'pyarrow', 'httpx'} & set(sys.modules))))\n")
    done = subprocess.run([sys.executable, "-c", script], env=clean_env(tmp_path),
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    digest, name = done.stdout.splitlines()[0].split("  ")
    assert name == "a.txt" and digest.endswith("=")
    assert json.loads(done.stdout.splitlines()[-1]) == []


def test_help_lists_every_command_by_programme_with_its_own_one_line_help() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0, result.output
    assert "smartphone rollout" in result.output and "H: drive migration" in result.output
    assert "registers them" not in result.output  # the developer's docstring is gone
    listed = result.output.split("Smartphone rollout:")[1]
    for name, noun in NOUNS.items():
        assert f"\n  {name} " in listed
        # The static table says what the module says (else the table is out of date).
        assert load_noun(name).get_short_help_str(limit=300) == noun.help, name
    for name in ("init", "serve", "version"):
        assert f"\n  {name} " in listed


# --- usage errors -----------------------------------------------------------------------


def command_paths() -> Iterator[list[str]]:
    """Every command and subcommand of ``mobilise``, as the words that name it."""
    import typer

    root = typer.main.get_command(app)
    ctx = root.make_context("mobilise", ["--help"], resilient_parsing=True)

    def walk(command: object, path: list[str]) -> Iterator[list[str]]:
        yield path
        list_commands = getattr(command, "list_commands", None)
        if list_commands is None:
            return
        for name in list_commands(ctx):
            yield from walk(command.get_command(ctx, name), [*path, name])  # type: ignore[attr-defined]

    yield from walk(root, [])


def test_every_command_refuses_an_unknown_option_with_usage_and_exit_2() -> None:
    # In-process through Typer's own runner (the entry point's handling is the same
    # Typer code, and is checked through a real process below).
    runner = CliRunner()
    paths = list(command_paths())
    assert len(paths) > 100  # the walk reached the subcommands
    for path in paths:
        result = runner.invoke(app, [*path, "--no-such-option"], prog_name="mobilise")
        assert result.exit_code == 2, (path, result.output)
        assert isinstance(result.exception, SystemExit), (path, result.exception)
        assert "Traceback" not in result.output, path
        assert "No such option: --no-such-option" in result.output, (path, result.output)
        assert "Usage: mobilise" in result.output, (path, result.output)


@pytest.mark.parametrize(("args", "says"), [
    (["people", "import", "missing.csv"], "does not exist"),
    (["people", "list", "--nope"], "No such option: --nope"),
    (["peple", "list"], "Did you mean 'people'?"),
    ([], "Smartphone rollout"),  # bare mobilise: the help
])
def test_usage_errors_through_the_entry_point_print_no_traceback(
        tmp_path: Path, args: list[str], says: str) -> None:
    done = mobilise(tmp_path, *args)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert says in done.stdout + done.stderr
    assert "Usage: mobilise" in done.stdout + done.stderr


def test_a_setting_that_is_not_valid_is_named_in_one_line(tmp_path: Path) -> None:
    env = clean_env(tmp_path)
    env["MOBILISE_LOG_LEVEL"] = "loud"
    done = subprocess.run([sys.executable, "-m", "mobilise.cli.main", "config", "show"],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.startswith("error: the settings are not valid: log_level "
                                  "(MOBILISE_LOG_LEVEL): Input should be")
    assert "Traceback" not in done.stderr


# --- a database without the schema ------------------------------------------------------


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("MOBILISE_DATABASE_URL", settings.database_url)
    context.settings.cache_clear()
    context.require_schema.cache_clear()
    yield CliRunner()
    context.settings.cache_clear()
    context.require_schema.cache_clear()


def test_a_command_on_a_database_without_schema_says_run_init(
        cli: CliRunner, settings: Settings) -> None:
    with make_engine(settings.database_url).begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))
    result = cli.invoke(app, ["users", "list"])
    assert isinstance(result.exception, DatabaseNotReady), result.output
    assert result.exception.exit_code == 8
    assert result.exception.message.endswith("has no Mobilise schema: run `mobilise init`")


def test_a_fresh_sqlite_file_is_refused_not_created(tmp_path: Path) -> None:
    env = clean_env(tmp_path)
    db = tmp_path / "fresh" / "mobilise.db"
    env["MOBILISE_DATABASE_URL"] = f"sqlite:///{db}"
    env["MOBILISE_NEW_PASSWORD"] = "a long enough password"
    done = subprocess.run([sys.executable, "-m", "mobilise.cli.main", "users", "add", "alice",
                           "--roles", "records"], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 8
    assert "Traceback" not in done.stderr
    assert done.stderr.strip() == (f"error: the database at sqlite:///{db} has no Mobilise "
                                   "schema: run `mobilise init`")
    assert not db.exists()


# --- listings: all of an export, a page of a table that says so -------------------------


def test_exports_list_every_row_and_a_table_says_what_part_it_shows(
        cli: CliRunner, session: Session, tmp_path: Path) -> None:
    load_people(session, tmp_path, count=110)  # all in org unit CE

    out = cli.invoke(app, ["people", "list", "--org-unit", "CE", "--format", "csv"])
    assert out.exit_code == 0, out.output
    assert len(list(csv.DictReader(io.StringIO(out.stdout)))) == 110
    out = cli.invoke(app, ["people", "list", "--org-unit", "CE", "--format", "json"])
    numbers = [row["number"] for row in json.loads(out.stdout)]
    assert len(set(numbers)) == 110
    out = cli.invoke(app, ["people", "list", "--org-unit", "CE"])
    assert "50 of 110 shown" in out.stdout
    out = cli.invoke(app, ["people", "list", "--org-unit", "CE", "--offset", "100"])
    assert "10 of 110 shown, from number 101" in out.stdout
    out = cli.invoke(app, ["people", "list", "--format", "csv", "--limit", "7"])
    assert len(list(csv.DictReader(io.StringIO(out.stdout)))) == 7
    out = cli.invoke(app, ["people", "list", "--limit", "200"])
    assert "shown" not in out.stdout  # all of them: nothing to say

    # A listing whose total is counted apart from its rows: the audit log (one entry a
    # person imported, and the org units').
    entries = session.scalar(text("SELECT count(*) FROM audit_log"))
    assert entries is not None and entries > 110
    out = cli.invoke(app, ["audit", "log", "--format", "csv"])
    assert len(list(csv.DictReader(io.StringIO(out.stdout)))) == entries
    out = cli.invoke(app, ["audit", "log"])
    assert f"50 of {entries} shown" in out.stdout
