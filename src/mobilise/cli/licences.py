"""``mobilise licences``: the NetMotion licence pool and its seats."""

from __future__ import annotations

import typer

from mobilise.cli.context import FormatOption, actor, console, emit, session
from mobilise.core.output import Format
from mobilise.devices import handsets, register

app = typer.Typer(help="NetMotion licences: pools bought and seats assigned.",
                  no_args_is_help=True)


@app.command("list")
def list_(fmt: FormatOption = Format.TABLE) -> None:
    """Licence pools: seats bought, assigned and free."""
    with session() as s:
        rows = register.pool_rows(s)
    emit(rows, register.POOL_COLUMNS, fmt)


@app.command("add-pool")
def add_pool(code: str, seats: int = typer.Argument(..., min=0),
             reseller: str | None = typer.Option(None), po: str | None = typer.Option(None,
                                                                                       "--po"),
             product: str = typer.Option("NetMotion Mobility")) -> None:
    """Record a purchase of licence seats."""
    with session() as s:
        handsets.add_pool(s, actor(), code, seats, product=product, reseller=reseller,
                          purchase_order=po)
    console.print(f"added pool {code} with {seats:,} seats")


@app.command("seats")
def seats(pool: str | None = typer.Option(None, help="pool code"),
          limit: int = typer.Option(500, min=1, max=100_000),
          offset: int = typer.Option(0, min=0), fmt: FormatOption = Format.TABLE) -> None:
    """Seats in use: which handset and person hold each."""
    with session() as s:
        rows = register.seat_rows(s, pool, limit=limit, offset=offset)
    emit(rows, register.SEAT_COLUMNS, fmt)
