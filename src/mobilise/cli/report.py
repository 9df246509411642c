"""``mobilise report``: reports built from live data (the investment board report)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from mobilise.cli.context import (
    FormatOption,
    emit,
    err_console,
    programme_sources,
    session,
    settings,
)
from mobilise.core.clock import SystemClock
from mobilise.core.output import Format, to_json
from mobilise.finance.board import build_board_report

app = typer.Typer(help="Reports for the programme's governance.", no_args_is_help=True)

FIGURE_COLUMNS = ["label", "text", "as_of", "source"]


class BoardFormat(StrEnum):
    HTML = "html"
    PDF = "pdf"
    JSON = "json"


@app.command("board")
def board(
    fmt: BoardFormat = typer.Option(BoardFormat.HTML, "--format", "-f", case_sensitive=False),
    out: Path | None = typer.Option(None, "--out", "-o",
                                    help="file to write (default board-report.<format>; "
                                         "'-' for stdout with html or json)"),
) -> None:
    """The investment board's monitoring report: progress, budget against actual and
    forecast with charts, refresh forecast, approvals and risks."""
    from mobilise.web.board_report import render_document
    from mobilise.web.chromium import print_pdf

    with session() as s:
        report = build_board_report(s, settings(), SystemClock(), programme_sources())
    target = out or Path(f"board-report.{fmt.value}")
    if fmt is BoardFormat.PDF:
        if str(target) == "-":
            raise typer.BadParameter("a PDF needs a file: --out board.pdf")
        print_pdf(settings(), render_document(report), target)
    else:
        text = to_json(report.summary()) if fmt is BoardFormat.JSON else render_document(report)
        if str(target) == "-":
            typer.echo(text)
            return
        target.write_text(text, encoding="utf-8")
    err_console.print(f"wrote {target}")


@app.command("figures")
def figures(fmt: FormatOption = Format.TABLE) -> None:
    """The programme's headline figures: handsets issued, people eligible, people
    migrated, data moved, files by retention outcome, spend and the forecast finish (the
    same as the overview, the board report and /api/v1/figures)."""
    from mobilise.programme.figures import headline

    with session() as s:
        rows = [f.row() for f in headline(s, settings(), SystemClock())]
    if fmt is Format.JSON:
        typer.echo(to_json(rows))
        return
    emit(rows, FIGURE_COLUMNS, fmt, title="headline figures")
