"""``mobilise users``: logins, roles, passwords and API tokens, and their lifecycle."""

from __future__ import annotations

import typer
from sqlalchemy import select

from mobilise.cli.context import FormatOption, actor, emit, session
from mobilise.core import auth
from mobilise.core.output import Format

app = typer.Typer(help="Manage logins, roles and API tokens.", no_args_is_help=True)

ROLES_HELP = "comma-separated: admin, programme, service-desk, migration, records, auditor, viewer"


@app.command("add")
def add(
    username: str,
    roles: str = typer.Option(..., help=ROLES_HELP),
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
    """List logins, their roles and the people they are linked to."""
    from mobilise.people import logins

    with session() as s:
        rows = [logins.login_row(s, u) | {"roles": ",".join(u.roles)}
                for u in s.scalars(select(auth.User).order_by(auth.User.username))]
    emit(rows, ["username", "name", "roles", "active", "person", "entra", "tokens"], fmt)


@app.command("link")
def link(username: str, person: str = typer.Argument(..., help="number or UPN")) -> None:
    """Link a login to the person it is (their own pages and review items follow)."""
    from mobilise.people import logins

    with session() as s:
        found = logins.find_person(s, person)
        logins.link_login(s, actor(), auth.get_user(s, username), found)
        number = found.number
    typer.echo(f"{username} is person {number}")


@app.command("unlink")
def unlink(username: str) -> None:
    """Unlink a login from its person."""
    from mobilise.people import logins

    with session() as s:
        logins.unlink_login(s, actor(), auth.get_user(s, username))
    typer.echo(f"{username} is linked to no person")


@app.command("disable")
def disable(username: str, reason: str | None = typer.Option(None)) -> None:
    """Disable a login: its sessions end and its API tokens stop working."""
    with session() as s:
        auth.set_active(s, actor(), auth.get_user(s, username), False, reason)
    typer.echo(f"disabled {username}")


@app.command("enable")
def enable(username: str, reason: str | None = typer.Option(None)) -> None:
    """Enable a login again (this also lifts a sign-in lock on it)."""
    with session() as s:
        auth.set_active(s, actor(), auth.get_user(s, username), True, reason)
    typer.echo(f"enabled {username}")


@app.command("passwd")
def passwd(
    username: str,
    password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True,
                                 envvar="MOBILISE_NEW_PASSWORD"),
) -> None:
    """Set a login's password; its sessions end."""
    with session() as s:
        auth.set_password(s, actor(), auth.get_user(s, username), password)
    typer.echo(f"password of {username} changed")


@app.command("roles")
def roles(username: str, set_: str = typer.Option(..., "--set", help=ROLES_HELP)) -> None:
    """Replace a login's roles; its sessions end."""
    with session() as s:
        user = auth.set_roles(s, actor(), auth.get_user(s, username), auth.parse_roles(set_))
        now = ",".join(user.roles)
    typer.echo(f"{username}: {now or '(no roles)'}")


@app.command("tokens")
def tokens(username: str, revoke: int | None = typer.Option(None, help="revoke this token id"),
           fmt: FormatOption = Format.TABLE) -> None:
    """List a login's API tokens (ids, never the tokens), or revoke one with --revoke."""
    with session() as s:
        user = auth.get_user(s, username)
        if revoke is not None:
            auth.revoke_token(s, actor(), revoke, user=user)
        rows = auth.token_rows(user)
    emit(rows, ["id", "name", "prefix", "created_at", "revoked_at"], fmt)


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
