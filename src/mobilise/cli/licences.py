"""``mobilise licences``: the NetMotion licence pool and its seats."""

from __future__ import annotations

import typer

from mobilise.cli.context import (
    FormatOption,
    LimitOption,
    actor,
    console,
    emit,
    read_pages,
    rows_wanted,
    session,
)
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
          limit: int | None = LimitOption(500),
          offset: int = typer.Option(0, min=0), fmt: FormatOption = Format.TABLE) -> None:
    """Seats in use: which handset and person hold each."""
    with session() as s:
        rows = read_pages(
            lambda n, start: register.seat_rows(s, pool, limit=n, offset=start),
            offset, rows_wanted(limit, fmt, 500))
        total = register.count_seats(s, pool) if fmt is Format.TABLE else None
    emit(rows, register.SEAT_COLUMNS, fmt, total=total, offset=offset)
