"""``mobilise sims``: SIM cards."""

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
    settings,
)
from mobilise.core.clock import SystemClock
from mobilise.core.output import Format
from mobilise.devices import carrier, handsets, register
from mobilise.devices.carrier import EmailCarrier

app = typer.Typer(help="SIM cards: register, list, fit to a handset; bars with the carrier.",
                  no_args_is_help=True)


@app.command("list")
def list_(free: bool = typer.Option(False, "--free", help="only unfitted, unbarred SIMs"),
          limit: int | None = LimitOption(200),
          offset: int = typer.Option(0, min=0), fmt: FormatOption = Format.TABLE) -> None:
    """List SIM cards and the handset each is fitted to."""
    with session() as s:
        rows = read_pages(
            lambda n, start: register.sim_rows(s, free_only=free, limit=n, offset=start),
            offset, rows_wanted(limit, fmt, 200))
        total = register.count_sims(s, free_only=free) if fmt is Format.TABLE else None
    emit(rows, register.SIM_COLUMNS, fmt, total=total, offset=offset)


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


def _carrier() -> EmailCarrier:
    return EmailCarrier(settings(), SystemClock())


@app.command("send-bars")
def send_bars(limit: int = typer.Option(10_000, min=1, help="most bars this run"),
              fmt: FormatOption = Format.TABLE) -> None:
    """Send queued SIM bars (lost and stolen handsets) to the carriers, by e-mail through
    the comms outbox ('mobilise comms send' delivers them)."""
    with session() as s:
        sent = carrier.send_bars(s, actor(), SystemClock(), _carrier(), limit=limit)
    emit([sent.summary()], list(sent.summary()), fmt, title="SIM bars")


@app.command("bar-confirm")
def bar_confirm(iccid: str = typer.Argument(..., help="ICCID or MSISDN"),
                reference: str | None = typer.Option(None, help="the carrier's reference")
                ) -> None:
    """Record that the carrier confirmed a bar."""
    with session() as s:
        sim = carrier.confirm_bar(s, actor(), SystemClock(), register.get_sim(s, iccid),
                                  reference=reference)
        console.print(f"SIM {sim.iccid} barred")


@app.command("unbar")
def unbar(iccid: str = typer.Argument(..., help="ICCID or MSISDN"),
          reason: str = typer.Option(..., help="why the bar can be lifted")) -> None:
    """Ask the carrier to lift a SIM's bar (refused while its handset is lost or stolen)."""
    with session() as s:
        sim = register.get_sim(s, iccid)
        where = carrier.request_unbar(s, actor(), SystemClock(), _carrier(), sim,
                                      reason=reason)
        console.print(f"unbar of SIM {sim.iccid} requested from {where}")


@app.command("unbar-confirm")
def unbar_confirm(iccid: str = typer.Argument(..., help="ICCID or MSISDN"),
                  reference: str | None = typer.Option(None, help="the carrier's reference")
                  ) -> None:
    """Record that the carrier lifted a bar."""
    with session() as s:
        sim = carrier.confirm_unbar(s, actor(), SystemClock(), register.get_sim(s, iccid),
                                    reference=reference)
        console.print(f"SIM {sim.iccid} unbarred")
