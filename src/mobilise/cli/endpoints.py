"""``mobilise endpoints``: laptops and their offline copies of the H: drive."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer

from mobilise.cli.context import (
    FormatOption,
    actor,
    column_mapping,
    emit,
    err_console,
    session,
    settings,
)
from mobilise.core.errors import InvalidInput
from mobilise.core.output import Format

app = typer.Typer(help="Laptops' offline copies: the endpoint inventory, who has synced, "
                       "the cutover's offline-sync check.", no_args_is_help=True)


def _since(text: str | None) -> datetime | None:
    if text is None:
        return None
    from mobilise.endpoints.inventory import parse_time

    try:
        return parse_time(text)
    except ValueError as err:
        raise InvalidInput(f"--since: {err}") from None


@app.command("import")
def import_(
    path: Path = typer.Argument(..., exists=True, dir_okay=False,
                                help="CSV or XLSX export from Intune or Configuration Manager"),
    map_: list[str] = typer.Option([], "--map", help="column mapping 'File header=field' "
                                   "(fields: device, primary_user, last_sync, cache_bytes, "
                                   "pending_items)"),
) -> None:
    """Import the endpoint inventory: each laptop, its primary user, its last offline-files
    sync, cache size and items pending. All or nothing."""
    from mobilise.endpoints.inventory import import_endpoints

    with session() as s:
        result = import_endpoints(s, actor(), path, mapping=column_mapping(map_))
    err_console.print(f"{result.added} laptops added, {result.updated} updated, "
                      f"{result.unchanged} unchanged; {len(result.unmatched)} with a primary "
                      "user who is no person of the register", markup=False, highlight=False)


@app.command("list")
def list_(
    wave: str = typer.Option(..., help="wave name or id"),
    since: str | None = typer.Option(None, help="synced since (default: the wave's freeze, "
                                     "its cutover round's scheduled time)"),
    held_only: bool = typer.Option(False, "--held", help="only people their laptop holds back"),
    fmt: FormatOption = Format.TABLE,
) -> None:
    """The wave's people and their laptops: synced since the freeze or not."""
    from mobilise.migration import offline
    from mobilise.migration.waves import get_wave

    with session() as s:
        found = get_wave(s, wave)
        rows = [_row(r) for r in offline.wave_laptops(s, found, _since(since))
                if r.holds_back or not held_only]
        freeze = offline.freeze_of(found)
    against = f"the freeze {freeze:%Y-%m-%d %H:%M}" if freeze else "no freeze date"
    emit(rows, ["person", "name", "device", "state", "last_sync", "pending", "override"], fmt,
         title=f"wave {wave}: laptops against {against}")


def _row(r: object) -> dict[str, object]:
    from mobilise.migration.offline import LaptopState

    assert isinstance(r, LaptopState)
    e = r.endpoint
    return {"person": r.member.person.number, "name": r.member.person.display_name,
            "device": e.device if e else "", "state": r.state,
            "last_sync": e.last_sync if e else None, "pending": e.pending_items if e else None,
            "override": r.member.offline_override or ""}


@app.command("notify")
def notify(wave: str = typer.Argument(..., help="wave name or id"),
           since: str | None = typer.Option(None, help="default: the wave's freeze")) -> None:
    """Queue the offline-sync message to everyone in the wave whose laptop would hold
    their cutover back (once per person per freeze)."""
    from mobilise.migration import offline
    from mobilise.migration.waves import get_wave

    with session() as s:
        queued, before = offline.notify(s, settings(), get_wave(s, wave), since=_since(since))
    err_console.print(f"{queued} messages queued ({before} queued before)")


@app.command("override")
def override(wave: str = typer.Argument(..., help="wave name or id"),
             person: str = typer.Argument(..., help="number or UPN"),
             reason: str = typer.Option(..., help="why cut over without the laptop's sync")
             ) -> None:
    """Cut a person over without waiting for their laptop to sync (with a reason)."""
    from mobilise.migration import offline
    from mobilise.migration.waves import get_wave, member_of

    with session() as s:
        member = member_of(s, get_wave(s, wave), person)
        offline.override(s, actor(), member, reason)
    err_console.print(f"{person}: the offline-sync check is overridden", markup=False)
