"""``mobilise sims``: SIM cards."""

from __future__ import annotations

import typer

from mobilise.cli.context import FormatOption, actor, console, emit, session
from mobilise.core.output import Format
from mobilise.devices import handsets, register

app = typer.Typer(help="SIM cards: register, list, fit to a handset.", no_args_is_help=True)


@app.command("list")
def list_(free: bool = typer.Option(False, "--free", help="only unfitted, unbarred SIMs"),
          limit: int = typer.Option(200, min=1, max=100_000),
          offset: int = typer.Option(0, min=0), fmt: FormatOption = Format.TABLE) -> None:
    """List SIM cards and the handset each is fitted to."""
    with session() as s:
        rows = register.sim_rows(s, free_only=free, limit=limit, offset=offset)
    emit(rows, register.SIM_COLUMNS, fmt)


@app.command("add")
def add(iccid: str, msisdn: str | None = typer.Option(None, help="07... or +447..."),
        carrier: str = typer.Option("", help="network operator")) -> None:
    """Register a SIM card (ICCID check digit validated)."""
    with session() as s:
        sim = handsets.add_sim(s, actor(), iccid, msisdn=msisdn, carrier=carrier)
    console.print(f"added SIM {sim.iccid}")


@app.command("show")
def show(key: str = typer.Argument(..., help="ICCID or MSISDN"),
         fmt: FormatOption = Format.TABLE) -> None:
    with session() as s:
        sim = register.get_sim(s, key)
        row = next(r for r in register.sim_rows(s, limit=1, offset=0, iccid=sim.iccid))
    emit([{"field": k, "value": v} for k, v in row.items()], ["field", "value"], fmt)


@app.command("fit")
def fit(imei: str, iccid: str) -> None:
    """Fit a SIM to a handset."""
    with session() as s:
        handsets.fit_sim(s, actor(), register.get_handset(s, imei), register.get_sim(s, iccid))
    console.print(f"fitted {iccid} to {imei}")
