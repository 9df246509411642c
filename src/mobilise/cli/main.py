"""Mobilise runs the force's two device programmes: the smartphone rollout (handsets, SIMs,
licences, hand-over appointments) and the H: drive migration to OneDrive (scans,
retention review, waves, rounds), over the people register, logins and audit log they
share.

Settings come from MOBILISE_* variables or mobilise.toml (see `mobilise config show`);
run `mobilise init` once to create the database schema.
"""

# Each noun lives in its own module, imported only when that noun is run (or its help is
# asked for): importing them all would load every domain, SQLAlchemy, DuckDB, pyarrow and
# the emulator before `mobilise --help` could answer. The one-line help of every command
# is therefore written here, in NOUNS, and a test checks it against the modules.

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from difflib import get_close_matches
from typing import Any

import typer
from typer import _click as click
from typer._coercion import PassThroughRuntimeParam
from typer.core import DEFAULT_MARKUP_MODE, TyperCommand, TyperGroup, TyperOption

from mobilise import __version__


@dataclass(frozen=True)
class Noun:
    section: str
    help: str
    # "app": the module's Typer mounted under the noun; "register": the module adds a
    # single command to the root (register(app)).
    mount: str = "app"


ROLLOUT, MIGRATION, PROGRAMME, SHARED = (
    "Smartphone rollout", "H: drive migration", "Programme", "Shared")
SECTIONS = (ROLLOUT, MIGRATION, PROGRAMME, SHARED)

NOUNS: dict[str, Noun] = {
    "devices": Noun(ROLLOUT, "Handsets: register, lifecycle, manifests, hand-over, stocktake."),
    "sims": Noun(ROLLOUT, "SIM cards: register, list, fit to a handset; bars with the carrier."),
    "licences": Noun(ROLLOUT, "NetMotion licences: pools bought and seats assigned."),
    "rollout": Noun(ROLLOUT, "The handset rollout: plan, appointments, stock, forecast."),
    "drives": Noun(MIGRATION, "H: drives: discover, scan, assess for OneDrive, report readiness."),
    "retention": Noun(MIGRATION, "Review, retention and disposal: rule sets, dry runs, holds, "
                                 "review, disposal batches and certificates."),
    "waves": Noun(MIGRATION, "Migration waves: create, list, show."),
    "endpoints": Noun(MIGRATION, "Laptops' offline copies: the endpoint inventory, who has "
                      "synced, the cutover's offline-sync check."),
    "migrate": Noun(MIGRATION, "Migration rounds, cutover, verification and reports."),
    "hash": Noun(MIGRATION, "File checksums as `rclone hashsum` prints them (quickxor: what "
                            "OneDrive reports).", mount="register"),
    "emulator": Noun(MIGRATION, "A local Microsoft Graph emulator (users, OneDrive, faults)."),
    "graph": Noun(MIGRATION, "The Microsoft Graph tenant connection."),
    "finance": Noun(PROGRAMME, "Programme finance: decisions, envelopes, spend, variance, "
                               "refresh."),
    "report": Noun(PROGRAMME, "Reports for the programme's governance."),
    "people": Noun(SHARED, "The people register: import the roster, search, show."),
    "comms": Noun(SHARED, "Messages to people: versioned templates, the outbox, SMTP sending."),
    "users": Noun(SHARED, "Manage logins, roles and API tokens."),
    "audit": Noun(SHARED, "Read and verify the audit log."),
    "config": Noun(SHARED, "Show the configuration."),
    "worker": Noun(SHARED, "Run a Celery worker (Redis broker from MOBILISE_BROKER_URL).",
                   mount="register"),
    "demo": Noun(SHARED, "Generate demo data, or run the whole demo (mobilise demo)."),
}
# Commands defined in this file, and where the help lists them.
OWN_SECTIONS = {"init": SHARED, "serve": SHARED, "version": SHARED}
# Commands that answer without reading the settings (so without setting up logging).
NEEDS_NO_SETTINGS = frozenset({"version", "hash"})


def load_noun(name: str) -> click.Command:
    """The command of one noun, built from its module as if it had been added eagerly."""
    module = importlib.import_module(f"mobilise.cli.{name}")
    holder = typer.Typer(rich_markup_mode=DEFAULT_MARKUP_MODE)
    if NOUNS[name].mount == "register":
        module.register(holder)
    else:
        holder.add_typer(module.app, name=name)
    return typer.main.get_group(holder).commands[name]


class CheapHelpFlag(click.Command):
    """Typer reads a command's absent ``--help`` flag (None) through a Pydantic adapter
    it builds on first use, importing Pydantic (a fifth of a second) for `mobilise
    version`; a flag that is absent or a bool needs no conversion."""

    def get_help_option(self, ctx: click.Context) -> TyperOption | None:
        option = super().get_help_option(ctx)
        if option is not None and option._runtime_param is None:
            option._runtime_param = PassThroughRuntimeParam(
                parameter_info=option.type_descriptor.parameter_info, annotation=bool)
        return option


class OwnCommand(CheapHelpFlag, TyperCommand):
    """A command defined in this file."""


class LazyGroup(CheapHelpFlag, TyperGroup):
    """The root group: lists every noun from NOUNS and imports one only when it is used."""

    # Turned on by main() for the command it runs; a test driving `app` in-process keeps
    # the logging it has.
    logs_from_settings = False

    def invoke(self, ctx: click.Context) -> Any:
        # After the root's own parsing (so not for `mobilise --help`) and before the
        # command's: logging as the settings say, unless the command reads none or only
        # its help is asked for.
        name = ctx._protected_args[0] if ctx._protected_args else None
        if (self.logs_from_settings and name not in NEEDS_NO_SETTINGS
                and "--help" not in ctx.args):
            from mobilise.cli.context import settings
            from mobilise.core.logs import configure_logging

            configure_logging(settings())
        return super().invoke(ctx)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *NOUNS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in NOUNS:
            command = load_noun(cmd_name)
            self.add_command(command, cmd_name)
        return command

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Plain (not Rich) help: Rich's formatter builds every command to list it.
        click.core.Command.format_help(self, ctx, formatter)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args and self.no_args_is_help and self.rich_markup_mode is not None:
            # Typer's Rich help prints itself where a bare noun is answered with it (and
            # its error for that prints nothing); this help is plain, so print it here.
            typer.echo(ctx.get_help())
        return super().parse_args(ctx, args)

    def resolve_command(self, ctx: click.Context, args: list[str]
                        ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return self._click_resolve_command(ctx, args)
        except click.exceptions.UsageError as err:
            # Typer suggests only among commands built already: suggest among them all.
            matches = get_close_matches(args[0], self.list_commands(ctx)) if args else []
            if matches:
                suggestions = ", ".join(repr(m) for m in matches)
                err.message = f"{err.message.rstrip('.')}. Did you mean {suggestions}?"
            raise

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        own = {name: (section, self.commands[name].get_short_help_str(limit=200))
               for name, section in OWN_SECTIONS.items()}
        listed = {name: (noun.section, noun.help) for name, noun in NOUNS.items()} | own
        for section in SECTIONS:
            rows = [(name, text) for name, (where, text) in sorted(listed.items())
                    if where == section]
            with formatter.section(section):
                formatter.write_dl(rows)


app = typer.Typer(name="mobilise", help=__doc__, cls=LazyGroup, no_args_is_help=True,
                  add_completion=False,
                  pretty_exceptions_enable=False, rich_markup_mode=DEFAULT_MARKUP_MODE)


@app.command(cls=OwnCommand)
def init() -> None:
    """Create or upgrade the database schema (safe to run twice)."""
    from mobilise.cli.context import settings
    from mobilise.schema import upgrade_schema

    revision = upgrade_schema(settings())
    typer.echo(f"schema at revision {revision}")


@app.command(cls=OwnCommand)
def serve(
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8000, help="port"),
    workers: int = typer.Option(1, min=1, max=64,
                                help="server processes (one per CPU core serves the most)"),
) -> None:
    """Serve the web pages and the JSON API (refused with the default or a short
    MOBILISE_SECRET_KEY)."""
    import subprocess

    import uvicorn

    from mobilise.cli.context import settings
    from mobilise.core.errors import InvalidInput
    from mobilise.core.settings import secret_problem
    from mobilise.web.app import create_app

    problem = secret_problem(settings())
    if problem:
        raise InvalidInput(problem)

    typer.echo(f"Mobilise on http://{host}:{port}/")
    # The pages' whole-register figures are worked out by a process of their own and
    # shared with every server process (web.warm).
    from mobilise.core.lifeline import child_environment

    refresher = subprocess.Popen([sys.executable, "-m", "mobilise.web.refresher"],
                                 env=child_environment())
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


@app.command(cls=OwnCommand)
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def _integrity_error() -> type[Exception]:
    # Looked up only when an exception gets this far: the CLI starts without SQLAlchemy.
    from sqlalchemy.exc import IntegrityError

    return IntegrityError


def main(args: list[str] | None = None) -> Any:
    """The entry point. Usage errors (an unknown command or option, a missing file) are
    answered by Typer: the usage, one line saying what is wrong, exit 2. Mobilise's own
    errors are mapped here to one line and their exit code."""
    from mobilise.core.errors import MobiliseError

    LazyGroup.logs_from_settings = True
    try:
        return app(args=args, prog_name="mobilise")
    except MobiliseError as err:
        from mobilise.cli.context import err_console

        err_console.print(f"[bold red]error:[/] {err.message}", markup=True, highlight=False,
                          soft_wrap=True)
        sys.exit(err.exit_code)
    except (SystemExit, KeyboardInterrupt):
        raise  # before the next clause, which imports SQLAlchemy to name its error
    except _integrity_error() as err:
        # A uniqueness rule refusing a row outside a unit of work: the loser of two
        # concurrent creations of the same thing (a Conflict, not a traceback).
        from mobilise.cli.context import err_console
        from mobilise.core.db import is_unique_violation
        from mobilise.core.errors import ConcurrentChange

        if not is_unique_violation(err):
            raise
        conflict = ConcurrentChange()
        err_console.print(f"[bold red]error:[/] {conflict.message}", markup=True,
                          highlight=False)
        sys.exit(conflict.exit_code)
    finally:
        LazyGroup.logs_from_settings = False


if __name__ == "__main__":
    main()
