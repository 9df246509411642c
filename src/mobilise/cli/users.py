"""``mobilise users``: logins, roles and API tokens."""

from __future__ import annotations

import typer
from sqlalchemy import select

from mobilise.cli.context import FormatOption, actor, emit, session
from mobilise.core import auth
from mobilise.core.output import Format

app = typer.Typer(help="Manage logins, roles and API tokens.", no_args_is_help=True)


@app.command("add")
def add(
    username: str,
    roles: str = typer.Option(..., help="comma-separated: admin, programme, service-desk, "
                              "migration, records, auditor, viewer"),
    password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True,
                                 envvar="MOBILISE_NEW_PASSWORD"),
    name: str | None = typer.Option(None, help="display name"),
) -> None:
    """Add a login."""
    with session() as s:
        auth.add_user(s, actor(), username, password, auth.parse_roles(roles), name)
    typer.echo(f"added {username}")


@app.command("list")
def list_(fmt: FormatOption = Format.TABLE) -> None:
    """List logins and their roles."""
    with session() as s:
        rows = [{"username": u.username, "name": u.display_name, "roles": ",".join(u.roles),
                 "active": u.active, "tokens": sum(1 for t in u.tokens if not t.revoked_at)}
                for u in s.scalars(select(auth.User).order_by(auth.User.username))]
    emit(rows, ["username", "name", "roles", "active", "tokens"], fmt)


@app.command("token")
def token(username: str, name: str = typer.Option("cli", help="what the token is for")) -> None:
    """Issue an API token; it is shown once and stored only as a hash."""
    with session() as s:
        user = auth.get_user(s, username)
        plain = auth.issue_token(s, actor(), user, name)
    typer.echo(plain)


@app.command("revoke")
def revoke(token_id: int) -> None:
    """Revoke an API token by its id."""
    with session() as s:
        auth.revoke_token(s, actor(), token_id)
    typer.echo(f"revoked token {token_id}")
