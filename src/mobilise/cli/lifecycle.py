"""``mobilise waves lifecycle``: each migrated person's H: drive after cutover (grace with
sweeps, read-only, archived, released), Known Folder Move, and the storage released."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from mobilise.cli.context import (
    FormatOption,
    TokenOption,
    actor,
    emit,
    err_console,
    session,
    sessions,
    settings,
    user_actor,
)
from mobilise.core.output import Format

app = typer.Typer(help="The H: drive after cutover: grace, sweeps, read-only, archive, "
                       "release; Known Folder Move; storage released.",
                  no_args_is_help=True)

COLUMNS = ["person", "name", "state", "next_step", "due_at", "hook_error", "late_files",
           "signed_off_by", "disposal_batch", "released_bytes", "kfm_added_at"]
PersonOption = typer.Option([], "--person", help="number or UPN (repeatable; default: everyone "
                                                 "whose step is due)")


@app.command("show")
def show(wave: str = typer.Argument(..., help="wave name"),
         fmt: FormatOption = Format.TABLE) -> None:
    """Each migrated person's drive: state, next step and when it is due."""
    from mobilise.migration import after, waves
    with session() as s:
        rows = after.view_rows(s, waves.get_wave(s, wave))
    emit(rows, COLUMNS, fmt, title=f"wave {wave}: after cutover")


@app.command("advance")
def advance(wave: str = typer.Argument(..., help="wave name"),
            person: list[str] = PersonOption,
            reason: str | None = typer.Option(None, help="why a step is taken before it "
                                                         "is due"),
            fmt: FormatOption = Format.TABLE) -> None:
    """Take each person's next step (its hook runs first where it has one)."""
    from mobilise.migration import after, waves
    with session() as s:
        results = after.advance(s, actor(), settings(), waves.get_wave(s, wave),
                                people=person, reason=reason)
    emit([r.as_json() for r in results], ["person", "step", "done", "reason"], fmt,
         title=f"wave {wave}: {sum(r.done for r in results)} of {len(results)} step(s) done")
    if any(not r.done for r in results):
        raise typer.Exit(1)


@app.command("sweep")
def sweep(wave: str = typer.Argument(..., help="wave name"),
          executor: str = typer.Option("inprocess", "--executor",
                                       help="inprocess, processes or celery"),
          fmt: FormatOption = Format.TABLE) -> None:
    """A delta round over the drives in grace: late files go to OneDrive, people are told."""
    from mobilise.core.progress import RichProgress
    from mobilise.migration import waves
    from mobilise.migration.launch import start_sweep
    from mobilise.migration.progress import BarStats

    with session() as s:
        found = waves.get_wave(s, wave)
    # The same job as the API's and the page's (one round or sweep of a wave at a time,
    # shown live on the wave page), run here with a bar.
    with RichProgress(unit="files") as bar:
        job = start_sweep(sessions(), actor(), settings(), found, executor=executor,
                          here=BarStats(bar))
    stats = job.stats or {}
    late: dict[str, dict[str, Any]] = stats.get("late") or {}
    rows = [{"person": p, "late_files": n["files"], "first": n["first"]}
            for p, n in late.items()]
    emit(rows, ["person", "late_files", "first"], fmt,
         title=f"sweep round {stats.get('round', '?')}: {len(rows)} people had late files")
    if job.status != "done":
        err_console.print(f"job {job.id}: {job.message}", markup=False, highlight=False)
        raise typer.Exit(1)


@app.command("sign-off")
def sign_off(wave: str = typer.Argument(..., help="wave name"),
             person: str = typer.Argument(..., help="number or UPN"),
             note: str = typer.Option(..., help="what was checked"),
             token: TokenOption = None) -> None:
    """The data owner or a records manager agrees the drive may be released."""
    from mobilise.migration import after, waves
    with session() as s:
        row = after.sign_off(s, user_actor(s, token), waves.get_wave(s, wave), person, note)
        err_console.print(f"{person}: signed off by {row.signed_off_by}")


@app.command("release")
def release(wave: str = typer.Argument(..., help="wave name"),
            person: list[str] = typer.Option([], "--person", help="number or UPN (repeatable)"),
            token: TokenOption = None) -> None:
    """Propose the disposal batch that frees the signed-off, archived drives."""
    from mobilise.migration import after, waves
    with session() as s:
        batch = after.propose_release(s, user_actor(s, token), settings(),
                                      waves.get_wave(s, wave), people=person)
        err_console.print(
            f"batch {batch.id} proposed: {len(batch.items)} files, "
            f"{sum(i.size for i in batch.items)} bytes; another records manager approves it "
            f"(mobilise retention dispose approve {batch.id}), then it is executed "
            f"(mobilise retention dispose execute {batch.id}) and the drives advanced")


@app.command("kfm")
def kfm(wave: str = typer.Argument(..., help="wave name"),
        csv: Path | None = typer.Option(None, "--csv", dir_okay=False,
                                        help="write a membership CSV instead of using Graph"),
        fmt: FormatOption = Format.TABLE) -> None:
    """Add the people whose cutover is complete to the Known Folder Move group."""
    from mobilise.migration import after, waves
    with session() as s:
        found = waves.get_wave(s, wave)
        if csv is not None:
            csv.write_text(after.kfm_membership_csv(s, actor(), settings(), found),
                           encoding="utf-8")
            err_console.print(f"membership CSV written to {csv}")
            return
        from mobilise.graph import GraphClient
        after.kfm_group(settings())
        with GraphClient(settings()) as client:
            results = after.add_to_kfm_group(s, actor(), settings(), found, client)
    emit([r.as_json() for r in results], ["person", "upn", "outcome", "reason"], fmt,
         title=f"wave {wave}: Known Folder Move group")
    if any(r.outcome == "failed" for r in results):
        raise typer.Exit(1)


@app.command("released")
def released(fmt: FormatOption = Format.TABLE) -> None:
    """Storage released on Isilon per wave and in total, against the first-scan estate."""
    from mobilise.migration import after
    with session() as s:
        storage = after.storage_released(s)
    figures = storage.as_json()
    rows = [*figures["waves"], {"wave": "total", "released_bytes": figures["released_bytes"],
                                "released_tb": figures["released_tb"]}]
    emit(rows, ["wave", "people", "released", "released_bytes", "released_tb"], fmt,
         title=f"storage released: {storage.released_text} of {storage.estate_text} "
               "at the first scan")
