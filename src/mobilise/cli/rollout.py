"""``mobilise rollout``: plan, book and run hand-over appointments; forecast."""

from __future__ import annotations

import typer

app = typer.Typer(help="The handset rollout: plan, appointments, forecast.",
                  no_args_is_help=True)
