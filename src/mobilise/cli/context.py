"""What every CLI command shares: settings, a session, the actor, and the renderer."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Annotated, Any

import typer
from rich.console import Console
from sqlalchemy.orm import Session

from mobilise.core import auth
from mobilise.core.actor import Actor, cli_actor
from mobilise.core.db import session_scope
from mobilise.core.errors import NotAuthenticated
from mobilise.core.output import Format, render
from mobilise.core.settings import Settings

console = Console()
err_console = Console(stderr=True)

FormatOption = Annotated[
    Format, typer.Option("--format", "-f", help="output format", case_sensitive=False)
]


@cache
def settings() -> Settings:
    return Settings()


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

    with session_scope(settings()) as s:
        yield s


def emit(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], fmt: Format,
         title: str = "") -> None:
    """Print rows; machine formats go to stdout untouched by Rich markup."""
    text = render(rows, columns, fmt, title=title)
    if fmt is Format.TABLE:
        console.print(text, end="", markup=False, highlight=False)
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
