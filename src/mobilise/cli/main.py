"""The ``mobilise`` command. Each noun lives in its own module; this file registers them
and maps the error tree to exit codes and messages in one place."""

from __future__ import annotations

import subprocess
import sys

import typer

from mobilise import __version__
from mobilise.cli import audit as audit_cli
from mobilise.cli import comms as comms_cli
from mobilise.cli import config as config_cli
from mobilise.cli import demo as demo_cli
from mobilise.cli import devices as devices_cli
from mobilise.cli import drives as drives_cli
from mobilise.cli import emulator as emulator_cli
from mobilise.cli import finance as finance_cli
from mobilise.cli import graph as graph_cli
from mobilise.cli import hash as hash_cli
from mobilise.cli import licences as licences_cli
from mobilise.cli import migrate as migrate_cli
from mobilise.cli import people as people_cli
from mobilise.cli import report as report_cli
from mobilise.cli import retention as retention_cli
from mobilise.cli import rollout as rollout_cli
from mobilise.cli import sims as sims_cli
from mobilise.cli import users as users_cli
from mobilise.cli import waves as waves_cli
from mobilise.cli import worker as worker_cli
from mobilise.cli.context import err_console, settings
from mobilise.core.errors import MobiliseError
from mobilise.core.logs import configure_logging

app = typer.Typer(name="mobilise", help=__doc__, no_args_is_help=True,
                  pretty_exceptions_enable=False)
app.add_typer(config_cli.app, name="config")
app.add_typer(users_cli.app, name="users")
app.add_typer(people_cli.app, name="people")
app.add_typer(devices_cli.app, name="devices")
app.add_typer(sims_cli.app, name="sims")
app.add_typer(licences_cli.app, name="licences")
app.add_typer(drives_cli.app, name="drives")
app.add_typer(retention_cli.app, name="retention")
app.add_typer(audit_cli.app, name="audit")
app.add_typer(demo_cli.app, name="demo")
app.add_typer(emulator_cli.app, name="emulator")
app.add_typer(graph_cli.app, name="graph")
hash_cli.register(app)
app.add_typer(finance_cli.app, name="finance")
app.add_typer(report_cli.app, name="report")
app.add_typer(rollout_cli.app, name="rollout")
app.add_typer(comms_cli.app, name="comms")
worker_cli.register(app)
app.add_typer(waves_cli.app, name="waves")
app.add_typer(migrate_cli.app, name="migrate")


@app.command()
def init() -> None:
    """Create or upgrade the database schema (safe to run twice)."""
    from mobilise.core.schema_upgrade import upgrade_schema

    revision = upgrade_schema(settings())
    typer.echo(f"schema at revision {revision}")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8000, help="port"),
    workers: int = typer.Option(1, min=1, max=64,
                                help="server processes (one per CPU core serves the most)"),
) -> None:
    """Serve the web pages and the JSON API."""
    import uvicorn

    from mobilise.web.app import create_app

    typer.echo(f"Mobilise on http://{host}:{port}/")
    # The pages' whole-register figures are worked out by a process of their own and
    # shared with every server process (web.warm).
    refresher = subprocess.Popen([sys.executable, "-m", "mobilise.web.warm"])
    try:
        if workers > 1:
            # Each process builds its own app from the same settings (environment, toml).
            uvicorn.run("mobilise.web.app:app_from_environment", factory=True,
                        workers=workers, host=host, port=port, log_level=settings().log_level)
        else:
            uvicorn.run(create_app(settings(), served=True), host=host, port=port,
                        log_level=settings().log_level)
    finally:
        refresher.terminate()
        try:
            refresher.wait(30)
        except subprocess.TimeoutExpired:
            refresher.kill()


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    from mobilise.finance.connected import ProgrammeRegisters
    from mobilise.finance.sources import use_sources

    configure_logging(settings())
    use_sources(ProgrammeRegisters(settings()))
    try:
        app(standalone_mode=False)
    except MobiliseError as err:
        err_console.print(f"[bold red]error:[/] {err.message}", markup=True, highlight=False)
        sys.exit(err.exit_code)
    except typer.Exit as ex:
        sys.exit(ex.exit_code)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(1)
    except __import__("click").exceptions.ClickException as ex:
        ex.show()
        sys.exit(ex.exit_code)


if __name__ == "__main__":
    main()
