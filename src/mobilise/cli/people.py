"""``mobilise people``: the people register."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import typer

from mobilise.cli.context import (
    FormatOption,
    LimitOption,
    actor,
    column_mapping,
    console,
    emit,
    err_console,
    read_counted_pages,
    rows_wanted,
    session,
    settings,
)
from mobilise.core.output import Format
from mobilise.people import register, roster

app = typer.Typer(help="The people register: import the roster, search, show.",
                  no_args_is_help=True)


@app.command("import")
def import_(
    path: Path = typer.Argument(..., exists=True, dir_okay=False, help="roster CSV or XLSX"),
    units: Path | None = typer.Option(None, exists=True, help="org units CSV/XLSX to load first"),
    sites: Path | None = typer.Option(None, exists=True, help="sites CSV/XLSX to load first"),
    map_: list[str] = typer.Option([], "--map", help="column mapping 'File header=field'"),
    dry_run: bool = typer.Option(False, "--dry-run", help="show the difference, change nothing"),
    allow_mass_leavers: bool = typer.Option(
        False, "--allow-mass-leavers",
        help="confirm an import that makes more than roster_max_leaver_share of the register "
             "leavers, or has under 10% of its rows"),
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Import the roster: all rows valid or nothing changes; missing people become leavers."""
    with session() as s:
        if units:
            import_units = roster.import_units(s, actor(), units)
            console.print(f"org units: {import_units}")
        if sites:
            console.print(f"sites: {roster.import_sites(s, actor(), sites)}")
        diff = roster.import_roster(s, actor(), path, mapping=column_mapping(map_), dry_run=dry_run,
                                    allow_mass_leavers=allow_mass_leavers,
                                    max_leaver_share=settings().roster_max_leaver_share)
        if dry_run:
            s.rollback()
    rows = [{"change": "added", "number": n, "detail": ""} for n in diff.added]
    rows += [{"change": "changed", "number": n,
              "detail": "; ".join(f"{k}: {a!r} → {b!r}" for k, (a, b) in ch.items())}
             for n, ch in diff.changed.items()]
    rows += [{"change": "leaver", "number": n, "detail": ""} for n in diff.leavers]
    if dry_run or fmt is not Format.TABLE:
        emit(rows, ["change", "number", "detail"], fmt, title="roster difference (dry run)"
             if dry_run else "roster changes")
    summary = diff.summary()
    verb = "would change" if dry_run else "imported"
    err_console.print(f"{verb}: {summary['added']} added, {summary['changed']} changed, "
                      f"{summary['leavers']} leavers, {summary['unchanged']} unchanged")


@app.command("list")
def list_(
    q: str | None = typer.Option(None, "--search", "-q", help="name, number or UPN contains"),
    org_unit: str | None = typer.Option(None, help="org unit code"),
    site: str | None = typer.Option(None, help="site code"),
    status: str | None = typer.Option(None, help="active or leaver"),
    kind: str | None = typer.Option(None, help="officer or staff"),
    limit: int | None = LimitOption(50),
    offset: int = typer.Option(0, min=0),
    fmt: FormatOption = Format.TABLE,
) -> None:
    """List people, filtered and paged (a table shows 50; csv and json every one)."""
    query = register.PeopleQuery(q=q, org_unit=org_unit, site=site, status=status, kind=kind)
    with session() as s:
        people, total = read_counted_pages(
            lambda n, start: register.find_people(s, replace(query, limit=n, offset=start)),
            offset, rows_wanted(limit, fmt, 50))
        rows = [register.person_row(p) for p in people]
    emit(rows, register.PERSON_COLUMNS, fmt, title="people", total=total, offset=offset)


@app.command("show")
def show(key: str, fmt: FormatOption = Format.TABLE) -> None:
    """One person by warrant/staff number, UPN or id."""
    with session() as s:
        row = register.person_row(register.get_person(s, key))
    if fmt is Format.TABLE:
        emit([{"field": k, "value": v} for k, v in row.items()], ["field", "value"], fmt)
    else:
        emit([row], list(row), fmt)


@app.command("journey")
def journey_(key: str, fmt: FormatOption = Format.TABLE) -> None:
    """One person through both programmes: roster, appointment, hand-over, H: drive
    migration and its end state, files reviewed, messages sent."""
    from mobilise.programme.journey import journey

    with session() as s:
        found = journey(s, key)
    if fmt is Format.TABLE:
        emit(found.steps(), ["step", "detail"], fmt, title=f"journey of {key}")
    else:
        emit([found.as_json()], list(found.as_json()), fmt)
