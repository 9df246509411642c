"""``mobilise config``: what the settings are, secrets masked."""

from __future__ import annotations

import typer

from mobilise.cli.context import FormatOption, emit, settings
from mobilise.core.output import Format

app = typer.Typer(help="Show the configuration.", no_args_is_help=True)


@app.command("show")
def show(fmt: FormatOption = Format.TABLE) -> None:
    """Every setting and its value; secrets are masked."""
    rows = [{"setting": k, "value": v} for k, v in settings().masked().items()]
    emit(rows, ["setting", "value"], fmt)
