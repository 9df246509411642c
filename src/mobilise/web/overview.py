"""The programme at a glance for the overview page: handsets against plan, people
migrated, data moved, retention outcomes, budget and risks, each as a chart linking to its
detail page. Aggregate queries only (group-bys and per-round totals), so the page stays
quick at 45,000 people."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mobilise.core.clock import Clock
from mobilise.core.settings import Settings
from mobilise.devices.register import status_counts
from mobilise.finance.variance import by_year_and_budget, variance_lines
from mobilise.finance.years import FinancialYear
from mobilise.migration.after import storage_released
from mobilise.migration.models import MigrationRound, MigrationState, MigrationWave, PersonMigration
from mobilise.programme.figures import Figure
from mobilise.rollout import reports as rollout
from mobilise.rollout.planning import RolloutRecords
from mobilise.web.charts import bar_chart, bytes_chart, grouped_bar_chart, line_chart


@dataclass
class Panel:
    """One part of the overview: a heading, a sentence of figures, a chart (or None with
    the reason in ``empty``) and the page with the detail."""

    key: str
    title: str
    figures: str
    link: str
    link_text: str
    chart: Markup | None = None
    empty: str = ""
    notes: tuple[str, ...] = ()


def panels(session: Session, settings: Settings, clock: Clock,
           shown: dict[str, Figure[Any]]) -> list[Panel]:
    """The panels, their sentences made of the headline figures (``programme.figures``)
    so that they read exactly as the board report, the CLI and the API do."""
    records = RolloutRecords(managed_before=settings.rollout_managed_before)
    return [_handsets(session, settings, clock, records, shown), _migration(session, shown),
            _data_moved(session, shown), _storage_released(session), _retention(shown),
            _budget(session, shown),
            _risks(session, settings, clock, records)]


def _handsets(session: Session, settings: Settings, clock: Clock,
              records: RolloutRecords, shown: dict[str, Figure[Any]]) -> Panel:
    fc = rollout.forecast(session, records, settings, clock)
    figures = (f"{shown['handsets_issued'].text}, of {shown['people_eligible'].text}; "
               f"{shown['forecast_finish'].text}.")
    panel = Panel("handsets", "Handsets issued against plan", figures, "/rollout",
                  "Rollout detail")
    series: dict[str, Sequence[float | None]] = {
        name: [w.get(key) for w in fc.weeks] for name, key in (
        ("Planned", "planned"), ("Issued", "actual"), ("Forecast", "forecast"))}
    series = {k: v for k, v in series.items() if any(x is not None for x in v)}
    if series:
        panel.chart = line_chart("Handsets issued, cumulative by week",
                                 [w["week"] for w in fc.weeks], series)
    else:
        counts = status_counts(session)
        if any(counts.values()):
            panel.chart = bar_chart("Handsets by status", list(counts.items()),
                                    link="/handsets?status={}")
            panel.link, panel.link_text = "/handsets", "Handset register"
        else:
            panel.empty = "No handsets registered and no rollout plan yet."
    return panel


def _migration(session: Session, shown: dict[str, Figure[Any]]) -> Panel:
    states = dict(session.execute(select(PersonMigration.state, func.count())
                                  .group_by(PersonMigration.state)).all())
    total = sum(states.values())
    panel = Panel("migration", "People migrated",
                  f"{shown['people_migrated'].text}, of {total:,} people in waves.",
                  "/migration/progress", "Migration progress")
    if total:
        panel.chart = bar_chart("People in waves by migration state",
                                [(s.value.replace("_", " "), states.get(s.value, 0))
                                 for s in MigrationState])
    else:
        panel.empty = "No migration waves yet."
    return panel


def _data_moved(session: Session, shown: dict[str, Figure[Any]]) -> Panel:
    per_wave: dict[str, int] = defaultdict(int)
    rows = session.execute(
        select(MigrationWave.name, MigrationRound.summary)
        .join(MigrationRound, MigrationRound.wave_id == MigrationWave.id)
        .where(MigrationRound.summary.is_not(None)))
    for name, summary in cast("Iterable[tuple[str, dict[str, Any] | None]]", rows):
        per_wave[name] += int((summary or {}).get("bytes_copied", 0))
    panel = Panel("data", "Data moved", f"{shown['data_moved'].text}.", "/waves",
                  "Migration waves")
    if per_wave:
        panel.chart = bytes_chart("Data copied by wave", sorted(per_wave.items()),
                                  link="/waves/{}")
    else:
        panel.empty = "No data moved yet."
    return panel


def _storage_released(session: Session) -> Panel:
    figures = storage_released(session)
    panel = Panel("storage", "Storage released",
                  f"{figures.released_text} of H: drive storage released on Isilon, of "
                  f"{figures.estate_text} at the first scan.", "/waves",
                  "Migration waves")
    if figures.waves:
        panel.chart = bytes_chart("Storage released by wave",
                                  [(w.wave, w.released_bytes) for w in figures.waves],
                                  link="/waves/{}")
    else:
        panel.empty = ("No H: drive released yet: a drive is released after grace, "
                       "read-only and archive, with sign-off and a disposal batch.")
    return panel


def _retention(shown: dict[str, Figure[Any]]) -> Panel:
    outcomes = shown["files_by_retention_outcome"]
    panel = Panel("retention", "Retention outcomes",
                  f"Retention dry run: not yet run ({outcomes.text}).",
                  "/audit?entity=retention_rule_set", "Dry runs in the audit log")
    if outcomes.value is None:
        panel.empty = ("Not yet run: run mobilise retention dry-run to see what the rules "
                       "would do.")
        return panel
    panel.figures = f"Latest dry run ({outcomes.as_of:%d %b %Y}): {outcomes.text}."
    panel.chart = bar_chart("Files by retention action (latest dry run)",
                            list(outcomes.value.items()))
    return panel


def _budget(session: Session, shown: dict[str, Figure[Any]]) -> Panel:
    years: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for line in by_year_and_budget(variance_lines(session)):
        years[line.year][0] += line.envelope
        years[line.year][1] += line.forecast
    panel = Panel("budget", "Budget", f"{shown['spend'].text}.", "/finance", "Finance detail")
    if years:
        labels = [FinancialYear(y).label for y in sorted(years)]
        panel.chart = grouped_bar_chart(
            "Approved and forecast spend by year (£k)", labels,
            {"approved": [round(years[y][0] / 100_000, 1) for y in sorted(years)],
             "forecast": [round(years[y][1] / 100_000, 1) for y in sorted(years)]})
    else:
        panel.empty = "No decision envelopes recorded yet."
    return panel


def _risks(session: Session, settings: Settings, clock: Clock,
           records: RolloutRecords) -> Panel:
    found: list[Any] = rollout.risks(session, records, settings, clock)
    levels = {"red": 0, "amber": 0}
    for risk in found:
        levels[risk.level] = levels.get(risk.level, 0) + 1
    panel = Panel("risks", "Risks", f"{levels['red']} red, {levels['amber']} amber risks "
                  "flagged by the rollout.", "/rollout", "Rollout risks")
    if found:
        panel.chart = bar_chart("Rollout risks by level", list(levels.items()),
                                colours={"red": "red", "amber": "amber"})
        panel.notes = tuple(r.message for r in found[:5])
    else:
        panel.empty = "No risks flagged."
    return panel
