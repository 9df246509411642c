"""``mobilise waves``: migration waves (who moves together, and the rounds' schedule)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from mobilise.cli import lifecycle
from mobilise.cli.context import (
    FormatOption,
    actor,
    emit,
    err_console,
    session,
    sessions,
    settings,
)
from mobilise.core.errors import InvalidInput
from mobilise.core.output import Format
from mobilise.migration import reports, spmt, waves

app = typer.Typer(help="Migration waves: create, list, show.", no_args_is_help=True)
app.add_typer(lifecycle.app, name="lifecycle")


@app.command("create")
def create(
    name: str = typer.Argument(..., help="wave name"),
    org_unit: list[str] = typer.Option([], "--org-unit", help="org unit code (repeatable)"),
    site: list[str] = typer.Option([], "--site", help="site code (repeatable)"),
    person: list[str] = typer.Option([], "--person", help="number or UPN (repeatable)"),
    people_file: Path | None = typer.Option(None, exists=True, dir_okay=False,
                                            help="a file of numbers/UPNs, one a line"),
    tasks: Path | None = typer.Option(None, exists=True, dir_okay=False,
                                      help="SPMT bulk task CSV or JSON: its people"),
    delta_rounds: int = typer.Option(1, min=0, help="delta rounds between pre-seed and cutover"),
    schedule: str = typer.Option("", help="round dates in order, comma-separated ISO"),
    description: str | None = typer.Option(None),
) -> None:
    """Create a wave from org units, sites, a list or an SPMT task file."""
    people = list(person)
    if people_file:
        people += [line.strip() for line in people_file.read_text().splitlines() if line.strip()]
    with session() as s:
        if tasks:
            found = spmt.match_people(s, settings(), spmt.read_tasks(tasks), tasks.name)
            people += [p.number for p in found]
        selection = waves.WaveSelection(org_units=org_unit, sites=site, people=people)
        wave = waves.create_wave(s, actor(), name, selection, delta_rounds=delta_rounds,
                                 schedule=waves.parse_schedule(schedule),
                                 description=description)
        count = len(wave.people)
    err_console.print(f"wave {name!r}: {count} people, {delta_rounds + 2} rounds")


@app.command("list")
def list_(fmt: FormatOption = Format.TABLE) -> None:
    """List waves with their people's states."""
    with session() as s:
        rows = []
        for wave in waves.list_waves(s):
            summary = reports.wave_summary(s, wave)
            rounds = summary["rounds"]
            load = summary["review"]
            rows.append({"name": wave.name, "people": summary["people"],
                         **{k: summary["states"].get(k, 0) for k in
                            ("not_started", "in_progress", "migrated", "failed")},
                         "rounds": "/".join(r["status"][0] for r in rounds),
                         "review_people": load["people"], "review_files": load["files"],
                         "review_overdue": load["overdue"],
                         "review_escalated": load["escalated"]})
    emit(rows, ["name", "people", "not_started", "in_progress", "migrated", "failed",
                "rounds", "review_people", "review_files", "review_overdue",
                "review_escalated"], fmt, title="waves")


@app.command("show")
def show(name: str = typer.Argument(...), fmt: FormatOption = Format.TABLE) -> None:
    """A wave's rounds and people."""
    with session() as s:
        wave = waves.get_wave(s, name)
        summary = reports.wave_summary(s, wave)
        people = reports.wave_rows(s, wave)
    if fmt is Format.JSON:  # one document, not two
        typer.echo(json.dumps({**summary, "people": people}, default=str, indent=2))
        return
    emit(summary["rounds"], ["number", "kind", "status", "scheduled_for", "started_at",
                             "finished_at", "copied", "bytes_copied", "mb_per_s",
                             "throttle_events"], fmt, title=f"wave {name}: rounds")
    emit([summary["review"]], ["people", "files", "bytes", "overdue", "escalated"], fmt,
         title=f"wave {name}: awaiting retention review")
    emit(people, reports.WAVE_COLUMNS, fmt, title=f"wave {name}: people")


@app.command("export-tasks")
def export_tasks(
    name: str = typer.Argument(...),
    output: Path = typer.Option(..., "--output", "-o", help="file to write (.csv or .json)"),
) -> None:
    """Write the wave as an SPMT / Migration Manager bulk task file."""
    with session() as s:
        wave = waves.get_wave(s, name)
        tasks = [spmt.person_task(settings(), m.person, spmt.task_source(settings(), m.person))
                 for m in waves.wave_people(s, wave)]
    text = spmt.tasks_json(tasks) if output.suffix.lower() == ".json" else spmt.tasks_csv(tasks)
    output.write_text(text, encoding="utf-8")
    err_console.print(f"{len(tasks)} task(s) written to {output}")


@app.command("notify")
def notify(
    name: str = typer.Argument(..., help="wave name or id"),
    stage: str = typer.Option(..., "--stage",
                              help="announcement, readiness, cutover or completion"),
    fmt: FormatOption = Format.TABLE,  # json: the counts
) -> None:
    """Queue a stage's message to each person of the wave who has not had it yet."""
    from mobilise.core.progress import RichProgress
    from mobilise.migration.launch import start_notices
    from mobilise.migration.notices import Stage

    if stage not in {s.value for s in Stage}:
        raise InvalidInput(f"--stage {stage!r}: one of {', '.join(s.value for s in Stage)}")
    with session() as s:
        wave = waves.get_wave(s, name)
    # The same job as the API's and the page's (one at a time, on the jobs page), run
    # here with a bar.
    with RichProgress(unit="people") as bar:
        job = start_notices(sessions(), actor(), settings(), wave, stage, here=bar)
    if job.status != "done":
        err_console.print(f"job {job.id}: {job.message}", markup=False, highlight=False)
        raise typer.Exit(1)
    stats = job.stats or {}
    if fmt is Format.JSON:
        typer.echo(json.dumps({k: stats.get(k) for k in ("wave", "stage", "queued",
                                                         "already", "skipped")}))
        return
    err_console.print(f"wave {name!r}: {job.message} (job {job.id})", markup=False,
                      highlight=False)
