"""What every CLI command shares: settings, a session, the actor, and the renderer."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console

from mobilise.core import auth
from mobilise.core.actor import Actor, cli_actor
from mobilise.core.db import make_engine, session_factory, session_scope
from mobilise.core.errors import DatabaseNotReady, InvalidInput, NotAuthenticated
from mobilise.core.output import Format, render
from mobilise.core.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from mobilise.finance.sources import ProgrammeSources

Row = TypeVar("Row")

console = Console()
err_console = Console(stderr=True)

FormatOption = Annotated[
    Format, typer.Option("--format", "-f", help="output format", case_sensitive=False)
]


@cache
def settings() -> Settings:
    """The settings, read once (a setting that is not valid is an InvalidInput)."""
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as err:
        # One line a setting, named as the operator sets it, not a traceback.
        problems = "; ".join(
            f"{name} (MOBILISE_{name.upper()}): {e['msg']}"
            for e in err.errors() for name in ["_".join(map(str, e["loc"]))])
        raise InvalidInput(f"the settings are not valid: {problems}") from None


TokenOption = Annotated[str | None, typer.Option(
    "--token", envvar="MOBILISE_TOKEN", show_default=False,
    help="API token of the Mobilise user doing this (mobilise users token NAME)")]


def actor() -> Actor:
    return cli_actor()


def user_actor(s: Session, token: str | None) -> Actor:
    """The Mobilise user an API token proves: for four-eyes actions, where the operator's
    terminal name (``$USER``, which anyone can change) must not count as a person."""
    if not token:
        raise NotAuthenticated(
            "this needs the API token of a Mobilise user (--token or MOBILISE_TOKEN): "
            "four-eyes approval compares Mobilise users, not terminal accounts")
    return auth.user_for_token(s, token).actor()


@contextmanager
def session() -> Iterator[Session]:
    import mobilise.models  # noqa: F401  (every model mapped before the first flush)

    require_schema(settings().database_url)
    with session_scope(settings()) as s:
        yield s


def sessions() -> sessionmaker[Session]:
    """Sessions of the configured database, for work run as a job (``workers.background``
    opens its own: the job's row and the work's unit of work)."""
    import mobilise.models  # noqa: F401  (every model mapped before the first flush)

    require_schema(settings().database_url)
    return session_factory(settings())


@cache  # once a process (a failure is not cached)
def require_schema(url: str) -> None:
    """Refuse, in one line, a database that ``mobilise init`` has not prepared: every
    command would otherwise fail on its first table with a driver traceback, and SQLite
    would leave an empty database file behind."""
    from sqlalchemy import inspect
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    parsed = make_url(url)
    shown = parsed.render_as_string(hide_password=True)
    missing = DatabaseNotReady(f"the database at {shown} has no Mobilise schema: "
                               "run `mobilise init`")
    path = parsed.database
    if (parsed.get_backend_name() == "sqlite" and path and path != ":memory:"
            and not parsed.query.get("uri") and not Path(path).exists()):
        raise missing  # before connecting: connecting would create the file
    try:
        with make_engine(url).connect() as conn:
            ready = inspect(conn).has_table("alembic_version")
    except SQLAlchemyError as err:
        reason = str(getattr(err, "orig", None) or err).strip().splitlines()[0]
        raise DatabaseNotReady(f"the database at {shown} cannot be opened: {reason}") from err
    if not ready:
        raise missing


def programme_sources() -> ProgrammeSources:
    """Finance's figures from the live registers, as the web app installs them (unless a
    caller installed its own)."""
    from mobilise.finance.connected import ProgrammeRegisters
    from mobilise.finance.sources import FinanceSources, current_sources, use_sources

    if type(current_sources()) is FinanceSources:
        use_sources(ProgrammeRegisters(settings()))
    return current_sources()


def LimitOption(table_rows: int, most: int = 1_000_000) -> Any:  # noqa: N802 (an Option)
    """``--limit`` for a listing: a table shows a page unless told; an export (csv, json,
    html) is read whole unless told, never cut short without saying."""
    return typer.Option(None, "--limit", min=1, max=most,
                        help=f"at most this many rows (default: {table_rows} in a table, "
                             "every row in csv, json or html)")


def rows_wanted(limit: int | None, fmt: Format, table_rows: int) -> int | None:
    """How many rows to read: ``--limit`` if given, else a page for a table and all of
    them (None) for an export."""
    if limit is not None:
        return limit
    return table_rows if fmt is Format.TABLE else None


def read_pages(fetch: Callable[[int, int], Sequence[Row]], offset: int, limit: int | None,
               page: int = 1000) -> list[Row]:
    """``limit`` rows from ``offset`` (every row when None), asking ``fetch(limit, offset)``
    for a page at a time, so domain queries keep their own page bounds."""
    out: list[Row] = []
    while limit is None or len(out) < limit:
        want = page if limit is None else min(page, limit - len(out))
        got = fetch(want, offset + len(out))
        out.extend(got)
        if len(got) < want:
            break
    return out


def read_counted_pages(fetch: Callable[[int, int], tuple[Sequence[Row], int]], offset: int,
                       limit: int | None, page: int = 1000) -> tuple[list[Row], int]:
    """``read_pages`` for a query that also says how many rows match in all."""
    total = 0

    def rows(n: int, start: int) -> Sequence[Row]:
        nonlocal total
        found, total = fetch(n, start)
        return found

    return read_pages(rows, offset, limit, page), total


def emit(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], fmt: Format,
         title: str = "", total: int | None = None, offset: int = 0) -> None:
    """Print rows; machine formats go to stdout untouched by Rich markup. A table that
    shows part of ``total`` rows says so under it."""
    text = render(rows, columns, fmt, title=title)
    if fmt is Format.TABLE:
        console.print(text, end="", markup=False, highlight=False)
        if total is not None and (offset or len(rows) < total):
            start = f", from number {offset + 1}" if offset else ""
            console.print(f"{len(rows)} of {total} shown{start} (--limit and --offset for "
                          "others, --format csv for all)", markup=False, highlight=False)
    else:
        typer.echo(text.rstrip("\n"))


def column_mapping(pairs: list[str]) -> dict[str, str]:
    """``--map "File header=field"`` options, for every importing command."""
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise typer.BadParameter(f"{pair!r}: use 'File header=field'")
        header, key = pair.split("=", 1)
        out[header.strip()] = key.strip()
    return out
