"""Rendering the investment board report: its charts (Vega-Lite drawn to SVG) and its
HTML, once for the web page and the printable document alike (the PDF is the document
printed by Chromium)."""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from markupsafe import Markup

from mobilise import __version__
from mobilise.finance.board import BoardReport, Workstream
from mobilise.finance.money import format_millions, format_pounds
from mobilise.finance.years import FinancialYear
from mobilise.web.charts import grouped_bar_chart, line_chart
from mobilise.web.pages.render import TEMPLATES

TEMPLATES.env.filters["pounds"] = format_pounds
TEMPLATES.env.filters["millions"] = format_millions
TEMPLATES.env.filters["fy"] = lambda year: FinancialYear(int(year)).label

# The document carries its styles: the vendored GOV.UK Frontend CSS and ours, inline.
STYLES = (Path(__file__).parent / "static" / "govuk" / "govuk-frontend.min.css",
          Path(__file__).parent / "static" / "style.css")


@cache
def document_styles() -> Markup:
    """The styles a self-contained document (the board report, a policy receipt) carries
    inline: read once a process, not on every document (they ship with the code)."""
    return Markup("\n".join(p.read_text(encoding="utf-8-sig") for p in STYLES))  # noqa: S704


def _millions(pence: int) -> float:
    # Charts plot floats; the figures themselves stay integer pence everywhere else.
    return float(Decimal(pence) / Decimal(100_000_000))


def budget_chart(report: BoardReport, budget: str) -> Markup | None:
    lines = [x for x in report.budget if x.budget == budget]
    if not lines:
        return None
    return grouped_bar_chart(
        f"{budget.capitalize()}: approved, actual and forecast by financial year (£m)",
        [FinancialYear(x.year).label for x in lines],
        {"Approved": [_millions(x.envelope) for x in lines],
         "Actual": [_millions(x.actual) for x in lines],
         "Forecast": [_millions(x.forecast) for x in lines]}, y_title="£m")


def refresh_chart(report: BoardReport) -> Markup | None:
    if not report.refresh:
        return None
    return grouped_bar_chart(
        "Handset refresh: cost due against the refresh envelope (£m)",
        [r.year.label for r in report.refresh],
        {"Refresh envelope": [_millions(r.envelope_pence) for r in report.refresh],
         "Cost of handsets due": [_millions(r.cost_pence) for r in report.refresh]},
        y_title="£m")


def progress_chart(workstream: Workstream) -> Markup | None:
    progress = workstream.progress.value
    if progress is None or not progress.cumulative:
        return None
    days = [day for day, _ in progress.cumulative]
    return line_chart(f"{workstream.name}: {progress.unit}, cumulative", days, {
        progress.unit.capitalize(): [n for _, n in progress.cumulative],
        "Target": [progress.target] * len(days)}, colours={"Target": "grey"})


def charts(report: BoardReport) -> dict[str, Markup | None]:
    out: dict[str, Markup | None] = {
        "capital": budget_chart(report, "capital"),
        "revenue": budget_chart(report, "revenue"),
        "refresh": refresh_chart(report)}
    for index, workstream in enumerate(report.workstreams):
        out[f"progress{index}"] = progress_chart(workstream)
    return out


def context(report: BoardReport) -> dict[str, Any]:
    return {"report": report, "charts": charts(report), "totals": report.totals(),
            "version": __version__}


def render_document(report: BoardReport) -> str:
    """A self-contained HTML document (styles inline, charts inline SVG) for print."""
    return TEMPLATES.env.get_template("board_document.html").render(
        style=document_styles(), **context(report))
