"""``mobilise graph``: the Microsoft Graph connection."""

from __future__ import annotations

from typing import Annotated

import typer

from mobilise.cli.context import FormatOption, emit, settings
from mobilise.core.output import Format

app = typer.Typer(help="The Microsoft Graph tenant connection.", no_args_is_help=True)


@app.command()
def check(
    upn: Annotated[str | None, typer.Option(help="a person whose OneDrive to probe")] = None,
    folder: Annotated[str | None, typer.Option(
        help="folder in that OneDrive for one canary upload (created, verified, deleted)")
    ] = None,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Probe the configured tenant: what works, and the permission each step needs.
    Read-only, except one canary file when --folder is given."""
    from mobilise.graph import GraphClient
    from mobilise.graph.check import COLUMNS, check_tenant
    from mobilise.storage.onedrive import canary_upload

    with GraphClient(settings()) as client:
        steps = check_tenant(client, upn=upn, folder=folder, canary=canary_upload)
    emit([s.row() for s in steps], COLUMNS, fmt, title="Graph check")
    if any(s.failed for s in steps):
        raise typer.Exit(1)
