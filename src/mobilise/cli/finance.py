"""``mobilise finance``: decisions, envelopes, spend, variance, refresh forecast, thresholds."""

from __future__ import annotations

from pathlib import Path

import typer

from mobilise.cli.context import (
    FormatOption,
    actor,
    emit,
    err_console,
    programme_sources,
    session,
    settings,
)
from mobilise.core.clock import SystemClock
from mobilise.core.output import Format
from mobilise.finance import decisions as register
from mobilise.finance import refresh as refresh_forecast
from mobilise.finance import spend as spending
from mobilise.finance import thresholds as approvals
from mobilise.finance import variance as budget
from mobilise.finance.board import unit_costs as measure_unit_costs
from mobilise.finance.money import in_pounds, parse_pounds

app = typer.Typer(help="Programme finance: decisions, envelopes, spend, variance, refresh.",
                  no_args_is_help=True)

FileArgument = typer.Argument(..., exists=True, dir_okay=False, help="CSV or XLSX file")


@app.command("decisions")
def decisions(fmt: FormatOption = Format.TABLE) -> None:
    """The decisions register, with capital and revenue approved by each."""
    with session() as s:
        rows = [in_pounds(register.decision_row(d)) for d in register.list_decisions(s)]
    emit(rows, register.DECISION_COLUMNS, fmt, title="decisions")


@app.command("envelopes")
def envelopes(decision: str | None = typer.Option(None, help="one decision's reference"),
              fmt: FormatOption = Format.TABLE) -> None:
    """Approved envelopes by decision, financial year, budget type and purpose."""
    with session() as s:
        rows = [in_pounds(r) for r in register.envelope_rows(s)
                if decision is None or r["decision"] == decision]
    emit(rows, register.ENVELOPE_COLUMNS, fmt, title="approved envelopes")


@app.command("load-papers")
def load_papers() -> None:
    """Record both decision papers (PCD 1322 and the OneDrive migration) and their money."""
    with session() as s:
        recorded, changed = register.record_papers(s, actor())
    for reference, done in recorded.items():
        err_console.print(f"{reference}: {done.envelopes_added} envelopes added, "
                          f"{done.envelopes_changed} changed")
    err_console.print(f"thresholds cited by the papers: {changed} added or changed")


@app.command("import-envelopes")
def import_envelopes(path: Path = FileArgument) -> None:
    """Decisions and envelopes from a file (one row per envelope); all or nothing."""
    with session() as s:
        done = register.import_envelopes(s, actor(), path)
    err_console.print(f"decisions: {done.decisions_added} added, {done.decisions_changed} "
                      f"changed; envelopes: {done.envelopes_added} added, "
                      f"{done.envelopes_changed} changed")


@app.command("import-spend")
def import_spend(
    path: Path = FileArgument,
    dry_run: bool = typer.Option(False, "--dry-run", help="show what would change, change nothing"),
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Purchase orders and invoices; every line valid or nothing is imported."""
    with session() as s:
        result = spending.import_spend(s, actor(), path, dry_run=dry_run)
        if dry_run:
            s.rollback()
    if dry_run:
        rows = [{"change": "add", "document": d} for d in result.added]
        rows += [{"change": "update", "document": d} for d in result.changed]
        emit(rows, ["change", "document"], fmt, title="spend difference (dry run)")
    summary = result.summary()
    verb = "would import" if dry_run else "imported"
    err_console.print(f"{verb}: {summary['added']} added, {summary['changed']} changed, "
                      f"{summary['unchanged']} unchanged")


@app.command("import-purchases")
def import_purchases(path: Path = FileArgument) -> None:
    """Handset purchase batches (reference, date, handsets, unit cost): each handset's
    price, and the purchase dates of the handsets the register does not hold."""
    with session() as s:
        count = refresh_forecast.import_purchases(s, actor(), path)
    err_console.print(f"purchase batches: {count}")


@app.command("spend")
def spend(kind: str | None = typer.Option(None, help="order or invoice"),
          decision: str | None = typer.Option(None, help="one decision's reference"),
          fmt: FormatOption = Format.TABLE) -> None:
    """Purchase orders and invoices as imported."""
    with session() as s:
        rows = [in_pounds(r) for r in spending.spend_rows(s, kind, decision)]
    emit(rows, spending.SPEND_COLUMNS, fmt, title=f"{len(rows)} spend lines")


@app.command("variance")
def variance(decision: str | None = typer.Option(None, help="one decision's reference"),
             detail: bool = typer.Option(False, help="by decision and purpose too"),
             through: str | None = typer.Option(
                 None, help="project open-ended envelopes through this year (e.g. 2030/31; "
                            "default: the latest year any envelope or spend names)"),
             fmt: FormatOption = Format.TABLE) -> None:
    """Approved against committed, actual and forecast, by financial year and type."""
    from mobilise.core.errors import InvalidInput
    from mobilise.finance.years import parse_year

    try:
        last = parse_year(through).start_year if through else None
    except ValueError as err:
        raise InvalidInput(f"--through: {err}") from None
    with session() as s:
        lines = budget.variance_lines(s, decision=decision, through=last)
    shown = lines if detail or decision else budget.by_year_and_budget(lines)
    emit([in_pounds(x.row()) for x in shown], budget.VARIANCE_COLUMNS, fmt,
         title="budget variance (negative is a forecast overspend)")


@app.command("refresh")
def refresh(unit_cost: str | None = typer.Option(
                None, help="replacement price per handset in pounds (default: the price paid)"),
            fmt: FormatOption = Format.TABLE) -> None:
    """Handsets reaching end of life per financial year, their cost, against the refresh
    envelopes (service life: MOBILISE_HANDSET_SERVICE_LIFE_YEARS)."""
    price = parse_pounds(unit_cost) if unit_cost else None
    with session() as s:
        purchases, years = refresh_forecast.refresh_plan(
            s, settings().handset_service_life_years, programme_sources(), unit_cost_pence=price)
    if not purchases.available:
        err_console.print(purchases.note)
    emit([in_pounds(y.row()) for y in years], refresh_forecast.REFRESH_COLUMNS, fmt,
         title="handset refresh forecast")


@app.command("thresholds")
def thresholds(fmt: FormatOption = Format.TABLE) -> None:
    """Commitments at or over the procurement threshold or the delegation limit."""
    with session() as s:
        rows = [in_pounds(r) for r in approvals.flagged_commitments(s, settings())]
    emit(rows, approvals.THRESHOLD_COLUMNS, fmt, title="commitments needing approval")


@app.command("funding")
def funding(fmt: FormatOption = Format.TABLE) -> None:
    """Where each decision's money comes from (underspend, reallocation, Capital Programme
    additions), with the amount where the paper states one."""
    with session() as s:
        rows = [in_pounds(r) for r in register.funding_rows(s)]
    for row in rows:
        if not row["amount_stated"]:
            row["amount"] = "not stated"
    emit(rows, register.FUNDING_COLUMNS, fmt, title="funding sources")


@app.command("threshold-table")
def threshold_table(fmt: FormatOption = Format.TABLE) -> None:
    """Approval thresholds by the day each takes effect (a commitment is held to the one
    in force on its date)."""
    with session() as s:
        rows = [in_pounds(r) for r in approvals.threshold_rows(s)]
    emit(rows, approvals.DATED_COLUMNS, fmt, title="approval thresholds by effective date")


@app.command("add-threshold")
def add_threshold(
    rule: str = typer.Argument(..., help="procurement or delegation"),
    effective_from: str = typer.Argument(..., help="the day it takes effect, YYYY-MM-DD"),
    amount: str = typer.Argument(..., help="pounds, inclusive of VAT"),
    source: str = typer.Option(..., "--source", help="where the figure comes from"),
) -> None:
    """Record a rule's threshold from the day it takes effect (or correct one)."""
    from datetime import date

    from mobilise.core.errors import InvalidInput

    try:
        day = date.fromisoformat(effective_from)
    except ValueError:
        raise InvalidInput(f"{effective_from!r} is not a date (YYYY-MM-DD)") from None
    with session() as s:
        changed = approvals.record_threshold(
            s, actor(), approvals.DatedThreshold(rule, day, parse_pounds(amount), source),
            reason="recorded by hand")
    err_console.print(f"{rule} from {day:%d %B %Y}: {'recorded' if changed else 'unchanged'}")


@app.command("unit-costs")
def unit_costs(fmt: FormatOption = Format.TABLE) -> None:
    """Unit costs, each naming what it divides by what, as of today: per handset
    planned, per handset issued to date, per person migrated and per TB moved to date."""
    with session() as s:
        today = SystemClock().today()
        rows = [u.row() for u in measure_unit_costs(s, programme_sources(), today)]
    emit(rows, ["measure", "divides", "spend", "quantity", "unit_cost", "as_of"], fmt,
         title=f"unit costs as of {today:%d %B %Y}")
