"""The investment board's monitoring report, built from live data: delivery progress and
forecast against the deadline (through ``ProgrammeSources``), budget against actual and
forecast, unit costs, the refresh forecast, approvals needed, and risks.

This module gathers figures only; the web layer renders them (page, HTML document, PDF).
The headline figures come from ``programme.figures`` (through the installed sources), as
the overview, the CLI and the API show them. A figure the installed sources cannot answer
is carried as a note saying so, never as a made-up number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilise.core.clock import Clock
from mobilise.core.settings import Settings
from mobilise.finance.decisions import decision_row, list_decisions
from mobilise.finance.models import (
    Decision,
    Programme,
    Purpose,
    SpendKind,
    SpendLine,
)
from mobilise.finance.money import format_millions, format_pounds
from mobilise.finance.refresh import RefreshYear, refresh_plan
from mobilise.finance.sources import DeliveryProgress, ProgrammeSources, Reading, Risk
from mobilise.finance.thresholds import flagged_commitments
from mobilise.finance.variance import (
    Line,
    by_year_and_budget,
    envelope_amounts,
    variance_lines,
)
from mobilise.finance.years import FinancialYear, financial_year
from mobilise.programme import figures
from mobilise.programme.figures import Figure, FinishForecast, SpendTotals, by_key

RATE_WINDOW_DAYS = 28


@dataclass(frozen=True)
class Completion:
    """When delivery finishes at the recent rate, and how that sits with the deadline."""

    rate_per_day: Decimal
    finishes_on: date | None
    days_late: int | None

    @property
    def status(self) -> str:
        if self.finishes_on is None:
            return "no recent progress: cannot forecast completion"
        if self.days_late is None:
            return f"forecast to finish on {self.finishes_on:%d %B %Y} (no deadline set)"
        if self.days_late > 0:
            return f"forecast to finish {self.days_late} days after the deadline"
        return "forecast to finish by the deadline"


def forecast_completion(progress: DeliveryProgress, today: date) -> Completion:
    """Project the rate of the ``RATE_WINDOW_DAYS`` up to today (from the last reading at
    or before the window's start, else the first reading) forward from today: a workstream
    that has stopped shows no rate, however brisk it was before it stopped."""
    if not progress.cumulative:
        return Completion(Decimal(0), None, None)
    last_day, done = progress.cumulative[-1]
    remaining = max(progress.target - done, 0)
    if remaining == 0:
        late = (last_day - progress.deadline).days if progress.deadline else None
        return Completion(Decimal(0), last_day, late)
    since = today - timedelta(days=RATE_WINDOW_DAYS)
    base_day, base = next(((d, n) for d, n in reversed(progress.cumulative) if d <= since),
                          progress.cumulative[0])
    now = next((n for d, n in reversed(progress.cumulative) if d <= today), 0)
    days = (today - base_day).days
    if days <= 0 or now <= base:
        return Completion(Decimal(0), None, None)
    rate = Decimal(now - base) / days
    finishes = today + timedelta(days=math.ceil(Decimal(remaining) / rate))
    late = (finishes - progress.deadline).days if progress.deadline else None
    return Completion(rate.quantize(Decimal("0.1")), finishes, late)


def completion_from(forecast: FinishForecast) -> Completion:
    """The rollout's own forecast (``programme.figures.forecast_finish``) as a completion."""
    if forecast.finish is None:
        return Completion(Decimal(0), None, None)
    rate = (Decimal(str(forecast.rate_per_week)) / 7).quantize(Decimal("0.1"))
    return Completion(rate, forecast.finish, forecast.days_late)


@dataclass(frozen=True)
class UnitCost:
    """``spend`` divided by ``quantity``, each named, as of one day: a cost per handset
    planned divides approved money by the plan; per handset issued, money spent to date
    by what has been handed over to date."""

    measure: str
    spend_label: str
    spend_pence: int
    quantity_label: str
    quantity: Reading[Any]
    as_of: date

    @property
    def per_unit_pence(self) -> int | None:
        if not self.quantity.available or not self.quantity.value:
            return None
        return int(Decimal(self.spend_pence) / Decimal(self.quantity.value))

    def row(self) -> dict[str, Any]:
        per = self.per_unit_pence
        return {"measure": self.measure,
                "divides": f"{self.spend_label} ÷ {self.quantity_label}",
                "spend": format_pounds(self.spend_pence),
                "quantity": self.quantity.value if self.quantity.available
                else self.quantity.note,
                "unit_cost": format_pounds(per) if per is not None else "not yet available",
                "as_of": self.as_of}


@dataclass
class Workstream:
    name: str
    progress: Reading[DeliveryProgress]
    completion: Completion | None


@dataclass
class BoardReport:
    organisation: str
    generated_at: datetime
    today: date
    current_year: FinancialYear
    decisions: list[dict[str, Any]]
    budget: list[Line]
    budget_detail: list[Line]
    workstreams: list[Workstream]
    unit_costs: list[UnitCost]
    refresh: list[RefreshYear]
    refresh_note: str
    thresholds: list[dict[str, Any]]
    spend: Figure[SpendTotals]
    figures: list[Figure[Any]] = field(default_factory=list)
    figures_note: str = ""
    risks: list[Risk] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Isilon space released by the drives' after-cutover lifecycle (None: not connected).
    storage_released: dict[str, Any] | None = None
    storage_note: str = ""

    def totals(self) -> dict[str, int]:
        spent = self.spend.value
        assert spent is not None  # finance always holds its own figures
        return {"envelope": spent.approved, "committed": spent.committed,
                "actual": spent.actual, "forecast": spent.forecast}

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly digest (for ``--format json`` and the API)."""
        return {
            "organisation": self.organisation, "generated_at": self.generated_at,
            "current_year": self.current_year.label, "decisions": self.decisions,
            "totals_pence": self.totals(),
            "budget": [x.row() for x in self.budget],
            "workstreams": [{"name": w.name, "available": w.progress.available,
                             "note": w.progress.note,
                             "done": w.progress.value.done if w.progress.value else None,
                             "target": w.progress.value.target if w.progress.value else None,
                             "forecast": w.completion.status if w.completion else None}
                            for w in self.workstreams],
            "unit_costs": [u.row() for u in self.unit_costs],
            "refresh": [r.row() for r in self.refresh], "refresh_note": self.refresh_note,
            "thresholds": self.thresholds,
            "risks": [vars(r) for r in self.risks], "notes": self.notes,
            "figures": [f.row() for f in self.figures], "figures_note": self.figures_note,
            "storage_released": self.storage_released,
        }


def _actuals(session: Session, programme: Programme, *, capital_only: bool) -> int:
    stmt = (select(SpendLine.amount_pence).join(Decision, SpendLine.decision_id == Decision.id)
            .where(SpendLine.kind == SpendKind.INVOICE.value,
                   Decision.programme == programme.value,
                   SpendLine.purpose == Purpose.DELIVERY.value))
    if capital_only:
        stmt = stmt.where(SpendLine.budget == "capital")
    return sum(session.scalars(stmt))


def _approved_capital(session: Session, programme: Programme) -> int:
    ours = set(session.scalars(select(Decision.reference)
                               .where(Decision.programme == programme.value)))
    return sum(amount for (ref, _, budget, purpose), amount in envelope_amounts(session)
               if ref in ours and budget == "capital" and purpose == Purpose.DELIVERY.value)


def _planned(progress: Reading[DeliveryProgress]) -> Reading[int]:
    if progress.value is None:
        return Reading.missing(progress.source, progress.note)
    return Reading(progress.value.target, progress.source)


def unit_costs(session: Session, sources: ProgrammeSources, today: date) -> list[UnitCost]:
    """Each unit cost says what it divides by what, as of ``today``: approved rollout
    capital per handset planned (everyone eligible), rollout capital invoiced to date per
    handset issued to date (the two differ most early in a rollout, when little is
    handed over), and all migration invoices to date per person migrated and per
    terabyte moved."""
    rollout = _actuals(session, Programme.ROLLOUT, capital_only=True)
    migration = _actuals(session, Programme.MIGRATION, capital_only=False)
    return [
        UnitCost("per handset planned", "rollout capital approved for delivery",
                 _approved_capital(session, Programme.ROLLOUT), "handsets planned (people "
                 "eligible)", _planned(sources.rollout_progress(session)), today),
        UnitCost("per handset issued to date", "rollout capital invoiced to date",
                 rollout, "handsets issued to date", sources.handsets_issued(session), today),
        UnitCost("per person migrated to date", "migration invoiced to date", migration,
                 "people migrated to date", sources.people_migrated(session), today),
        UnitCost("per TB moved to date", "migration invoiced to date", migration,
                 "TB moved to date", sources.terabytes_moved(session), today)]


def _workstream(name: str, reading: Reading[DeliveryProgress], today: date,
                forecast: Figure[Any] | None = None) -> Workstream:
    if reading.value is None:
        return Workstream(name, reading, None)
    if forecast is not None and isinstance(forecast.value, FinishForecast):
        return Workstream(name, reading, completion_from(forecast.value))
    return Workstream(name, reading, forecast_completion(reading.value, today))


def build_board_report(session: Session, settings: Settings, clock: Clock,
                       sources: ProgrammeSources) -> BoardReport:
    today = clock.today()
    detail = variance_lines(session)
    purchases, refresh = refresh_plan(session, settings.handset_service_life_years, sources)
    headline = sources.headline(session, clock)
    shown = by_key(headline.value) if headline.value is not None else {}
    report = BoardReport(
        organisation=settings.organisation, generated_at=clock.now(), today=today,
        current_year=financial_year(today),
        decisions=[decision_row(d) for d in list_decisions(session)],
        budget=by_year_and_budget(detail), budget_detail=detail,
        workstreams=[_workstream("Smartphone rollout", sources.rollout_progress(session), today,
                                 shown.get("forecast_finish")),
                     _workstream("OneDrive migration", sources.migration_progress(session),
                                 today)],
        unit_costs=unit_costs(session, sources, today), refresh=refresh,
        refresh_note=(f"{purchases.source}; service life "
                      f"{settings.handset_service_life_years} years") if purchases.available
        else purchases.note,
        thresholds=flagged_commitments(session, settings),
        spend=figures.spend(session, clock),
        figures=headline.value or [], figures_note=headline.note,
    )
    report.notes = [f"{w.name}: {w.progress.note}" for w in report.workstreams
                    if not w.progress.available]
    released = sources.storage_released(session)
    report.storage_released, report.storage_note = released.value, released.note
    report.risks = finance_risks(report)
    external = sources.risks(session)
    if external.value is not None:
        report.risks += external.value
    else:
        report.notes.append(f"Risks from other workstreams: {external.note}")
    report.risks.sort(key=lambda r: ("high", "medium", "low").index(r.severity))
    return report


def finance_risks(report: BoardReport) -> list[Risk]:
    """Risks finance can see in its own figures."""
    risks = [Risk(f"Forecast overspend, {x.budget} {FinancialYear(x.year).label}", "high",
                  f"forecast {format_millions(x.forecast)} against an envelope of "
                  f"{format_millions(x.envelope)} ({format_pounds(-x.variance)} over)",
                  "finance")
             for x in report.budget if x.variance < 0]
    risks += [Risk(f"Approval not recorded for {t['reference']}", "high",
                   f"{t['supplier']}, {format_pounds(t['amount_pence'])}: needs {t['needs']}",
                   "finance") for t in report.thresholds if not t["approval_recorded"]]
    for year in report.refresh:
        if year.handsets_due and year.headroom_pence < 0:
            risks.append(Risk(
                f"Refresh not funded in {year.year.label}", "high" if not year.envelope_pence
                else "medium",
                f"{year.handsets_due:,} handsets due, costing {format_millions(year.cost_pence)}"
                f" against a refresh envelope of {format_millions(year.envelope_pence)}",
                "finance"))
    for w in report.workstreams:
        if w.completion and w.completion.days_late and w.completion.days_late > 0:
            risks.append(Risk(f"{w.name} forecast to miss its deadline", "high",
                              w.completion.status, w.progress.source))
    return risks
