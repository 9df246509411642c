"""``mobilise migrate``: run rounds, cut over, verify, retry and report."""

from __future__ import annotations

from pathlib import Path

import typer
from sqlalchemy.orm import Session

from mobilise.cli.context import FormatOption, actor, emit, err_console, session, settings
from mobilise.core.output import Format
from mobilise.core.progress import JobProgress, RichProgress, Tee
from mobilise.migration import reports, rounds, waves
from mobilise.migration.decisions import MigrationDecisions, plan_inputs_from_estate
from mobilise.migration.progress import JOB_KIND, BarStats
from mobilise.workers import open_executor

app = typer.Typer(help="Migration rounds, cutover, verification and reports.",
                  no_args_is_help=True)

def _decisions(s: Session) -> MigrationDecisions:
    """Retention's per-file actions (if a rule set is active) and renames; the operator is
    told which applies, because without a rule set every file migrates."""
    decisions = plan_inputs_from_estate(settings(), s)
    err_console.print(decisions.describe(), markup=False, highlight=False)
    return decisions


def _notices() -> rounds.StageNotices:
    """The people's messages, queued as their wave's stages happen."""
    from mobilise.migration.notices import WaveNotices

    return WaveNotices(actor(), settings())


ExecutorOption = typer.Option("inprocess", "--executor", help="inprocess, processes or celery")


@app.command("run")
def run(
    wave: str = typer.Argument(..., help="wave name"),
    round_: int | None = typer.Option(None, "--round", help="round number (default: next)"),
    executor: str = ExecutorOption,
    workers: int = typer.Option(4, help="in-process: people or shards at once"),
) -> None:
    """Run the wave's next pre-seed or delta round."""
    options = {"workers": workers} if executor in ("inprocess", "processes") else {}
    pool = open_executor(executor, settings(), **options)
    with session() as s, session() as job_session:
        found = waves.get_wave(s, wave)
        # The bar for the operator, a Job row for the web's live status page.
        with RichProgress(unit="files") as bar:
            progress = Tee(BarStats(bar), JobProgress(job_session, JOB_KIND))
            report = rounds.run_round(s, actor(), settings(), found, pool, number=round_,
                                      progress=progress, notices=_notices(),
                                      plan_inputs=_decisions(s))
        rows = [{"number": n, **t} for n, t in report.people.items()]
        status = report.round.status
    emit(rows, ["number", "copied", "skipped", "failed", "source_changed", "waiting",
                "not_moved", "bytes_copied", "throttle_events"], Format.TABLE,
         title=f"round {report.round.number}: {status}")
    if report.errors:
        err_console.print(f"{len(report.errors)} task error(s): {report.errors[0]}")
        raise typer.Exit(1)


@app.command("retry")
def retry(
    wave: str = typer.Argument(...),
    reason: str = typer.Option(..., help="why the round runs again"),
    executor: str = ExecutorOption,
) -> None:
    """Plan a failed or interrupted round again and run it (a sync repairs anything)."""
    from mobilise.core.transitions import run_transition
    from mobilise.migration.transitions import ROUND_LIFECYCLE

    with session() as s:
        found = waves.get_wave(s, wave)
        stuck = [r for r in found.rounds if r.status in ("failed", "running")
                 and r.kind != "cutover"]
        if not stuck:
            err_console.print("no failed or interrupted round")
            return
        run_transition(s, actor(), ROUND_LIFECYCLE, "replan", stuck[:1], reason=reason)
        s.commit()
        report = rounds.run_round(s, actor(), settings(), found,
                                  open_executor(executor, settings()),
                                  number=stuck[0].number, notices=_notices(),
                                  plan_inputs=_decisions(s))
        err_console.print(f"round {report.round.number}: {report.round.status}")


@app.command("cutover")
def cutover(
    wave: str = typer.Argument(...),
    confirm_frozen: bool = typer.Option(False, "--confirm-frozen",
                                        help="the sources are read-only now (not needed "
                                        "when a freeze hook is configured)"),
    person: list[str] = typer.Option([], "--person", help="only these people (repeatable)"),
    override_review: str | None = typer.Option(
        None, help="reason to cut over although files await retention review"),
    executor: str = ExecutorOption,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Final delta, full verification, then migrated — or failed with the reason."""
    with session() as s:
        found = waves.get_wave(s, wave)
        results = rounds.cutover(s, actor(), settings(), found,
                                 open_executor(executor, settings()),
                                 frozen_confirmed=confirm_frozen, people=person,
                                 review_override=override_review, notices=_notices(),
                                 plan_inputs=_decisions(s))
    emit([{"person": r.person, "migrated": r.migrated, "verified": r.verified,
           "reason": r.reason} for r in results],
         ["person", "migrated", "verified", "reason"], fmt, title="cutover")
    if not all(r.migrated for r in results):
        raise typer.Exit(1)


@app.command("verify")
def verify(
    wave: str = typer.Argument(...),
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Check every migrating file of the wave's people at its destination (changes nothing)."""
    from mobilise.migration.journal import verified_hashes
    from mobilise.migration.tasks import backend_from_spec
    from mobilise.migration.verify import verify_person

    rows = []
    with session() as s:
        decisions = _decisions(s)
        for member in waves.wave_people(s, waves.get_wave(s, wave)):
            p = member.person
            source = backend_from_spec(settings(), rounds.source_spec(settings(), p))
            main = backend_from_spec(settings(), rounds.destination_spec(settings(), p))
            archive = backend_from_spec(settings(), rounds.archive_spec(settings(), p))
            assert source is not None and main is not None
            dispositions, renames = decisions(p)
            check = verify_person(source, main, archive=archive, dispositions=dispositions,
                                  renames=renames,
                                  known_hashes=verified_hashes(settings().data_dir, p.number))
            rows.append({"person": p.number, "verified": len(check.verified),
                         "problems": len(check.problems), "waiting": len(check.waiting),
                         "first_problem": f"{check.problems[0].path}: {check.problems[0].reason}"
                         if check.problems else ""})
    emit(rows, ["person", "verified", "problems", "waiting", "first_problem"], fmt,
         title="verification")
    if any(r["problems"] for r in rows):
        raise typer.Exit(1)


@app.command("status")
def status(wave: str = typer.Argument(...), fmt: FormatOption = Format.TABLE) -> None:
    """Each person's state and latest round totals."""
    with session() as s:
        rows = reports.wave_rows(s, waves.get_wave(s, wave))
    emit(rows, reports.WAVE_COLUMNS, fmt, title=f"wave {wave}")


@app.command("report")
def report(
    wave: str = typer.Argument(...),
    person: str | None = typer.Option(None, help="one person's files"),
    output: Path | None = typer.Option(None, "--output", "-o", file_okay=False,
                                       help="folder for SummaryReport.csv and "
                                       "FailureSummary.csv"),
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Per person (every file's outcome) or per wave (SPMT-style summary and failures)."""
    if person:
        found = reports.person_report(settings(), person)
        emit(found.rows(), reports.PERSON_COLUMNS, fmt, title=f"{person}: {found.summary()}")
        return
    with session() as s:
        wave_ = waves.get_wave(s, wave)
        summary = reports.summary_report(s, settings(), wave_)
        failures = reports.failure_summary(s, settings(), wave_)
    if output is None:
        emit(summary, reports.SUMMARY_COLUMNS, fmt, title="summary")
        return
    output.mkdir(parents=True, exist_ok=True)
    _write_csv(output / "SummaryReport.csv", reports.SUMMARY_COLUMNS, summary)
    _write_csv(output / "FailureSummary.csv", reports.FAILURE_COLUMNS, failures)
    err_console.print(f"wrote {output / 'SummaryReport.csv'} and {output / 'FailureSummary.csv'}")


def _write_csv(path: Path, columns: tuple[str, ...], rows: list[dict[str, object]]) -> None:
    from mobilise.core.output import render  # CSV, formulas neutralised, in one place

    path.write_text(render(rows, columns, Format.CSV), encoding="utf-8")


@app.command("burndown")
def burndown_(
    as_of: str | None = typer.Option(None, "--as-of", help="YYYY-MM-DD (default: today)"),
    org_unit: str | None = typer.Option(None, "--org-unit",
                                        help="one org unit (default: every unit and 'all')"),
    recent_weeks: int = typer.Option(4, "--recent-weeks", min=1,
                                     help="weeks the forecast rate is taken over"),
    fmt: FormatOption = Format.TABLE,
) -> None:
    """People migrated by week: planned (cutover dates), actual and forecast."""
    from mobilise.core.clock import SystemClock
    from mobilise.core.importer import parse_date
    from mobilise.migration.burndown import COLUMNS, burndown

    try:
        day = parse_date(as_of) if as_of else SystemClock().now().date()
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--as-of") from None
    with session() as s:
        result = burndown(s, day, recent_weeks)
    if org_unit and org_unit not in result.people:
        err_console.print(f"no one from org unit {org_unit!r} is in a wave")
        raise typer.Exit(1)
    finish = result.finish_week()
    emit(result.rows(org_unit), list(COLUMNS), fmt,
         title=f"burndown as of {day}: forecast finish "
         f"{finish.isoformat() if finish else 'not in sight'}")
