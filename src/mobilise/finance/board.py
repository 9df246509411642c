"""The investment board's monitoring report, built from live data: delivery progress and
forecast against the deadline (through ``ProgrammeSources``), budget against actual and
forecast, unit costs, the refresh forecast, approvals needed, and risks.

This module gathers figures only; the web layer renders them (page, HTML document, PDF).
Anything another workstream has not yet connected is carried as a note saying so, never
as a made-up number.
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
from mobilise.finance.models import Decision, Programme, Purpose, SpendKind, SpendLine
from mobilise.finance.money import format_millions, format_pounds
from mobilise.finance.refresh import RefreshYear, refresh_plan
from mobilise.finance.sources import DeliveryProgress, ProgrammeSources, Reading, Risk
from mobilise.finance.thresholds import flagged_commitments
from mobilise.finance.variance import Line, by_year_and_budget, variance_lines
from mobilise.finance.years import FinancialYear, financial_year

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


def forecast_completion(progress: DeliveryProgress) -> Completion:
    """Project the rate of the last ``RATE_WINDOW_DAYS`` (from the last reading at or
    before the window's start, else the first reading) forward from the latest reading."""
    if not progress.cumulative:
        return Completion(Decimal(0), None, None)
    last_day, done = progress.cumulative[-1]
    remaining = max(progress.target - done, 0)
    if remaining == 0:
        late = (last_day - progress.deadline).days if progress.deadline else None
        return Completion(Decimal(0), last_day, late)
    since = last_day - timedelta(days=RATE_WINDOW_DAYS)
    base_day, base = next(((d, n) for d, n in reversed(progress.cumulative) if d <= since),
                          progress.cumulative[0])
    days = (last_day - base_day).days
    if days <= 0 or done <= base:
        return Completion(Decimal(0), None, None)
    rate = Decimal(done - base) / days
    finishes = last_day + timedelta(days=math.ceil(Decimal(remaining) / rate))
    late = (finishes - progress.deadline).days if progress.deadline else None
    return Completion(rate.quantize(Decimal("0.1")), finishes, late)


@dataclass(frozen=True)
class UnitCost:
    measure: str
    spend_pence: int
    quantity: Reading[Any]

    @property
    def per_unit_pence(self) -> int | None:
        if not self.quantity.available or not self.quantity.value:
            return None
        return int(Decimal(self.spend_pence) / Decimal(self.quantity.value))

    def row(self) -> dict[str, Any]:
        per = self.per_unit_pence
        return {"measure": self.measure, "spend": format_pounds(self.spend_pence),
                "quantity": self.quantity.value if self.quantity.available
                else self.quantity.note,
                "unit_cost": format_pounds(per) if per is not None else "not yet available"}


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
    risks: list[Risk] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Isilon space released by the drives' after-cutover lifecycle (None: not connected).
    storage_released: dict[str, Any] | None = None
    storage_note: str = ""

    def totals(self) -> dict[str, int]:
        return {"envelope": sum(x.envelope for x in self.budget),
                "committed": sum(x.committed for x in self.budget),
                "actual": sum(x.actual for x in self.budget),
                "forecast": sum(x.forecast for x in self.budget)}

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


def unit_costs(session: Session, sources: ProgrammeSources) -> list[UnitCost]:
    """Capital delivery actuals per handset issued; all migration actuals per person
    migrated and per terabyte moved."""
    rollout = _actuals(session, Programme.ROLLOUT, capital_only=True)
    migration = _actuals(session, Programme.MIGRATION, capital_only=False)
    return [UnitCost("per handset issued", rollout, sources.handsets_issued(session)),
            UnitCost("per person migrated", migration, sources.people_migrated(session)),
            UnitCost("per TB moved", migration, sources.terabytes_moved(session))]


def _workstream(name: str, reading: Reading[DeliveryProgress]) -> Workstream:
    completion = forecast_completion(reading.value) if reading.value else None
    return Workstream(name, reading, completion)


def build_board_report(session: Session, settings: Settings, clock: Clock,
                       sources: ProgrammeSources) -> BoardReport:
    today = clock.today()
    detail = variance_lines(session)
    purchases, refresh = refresh_plan(session, settings.handset_service_life_years, sources)
    report = BoardReport(
        organisation=settings.organisation, generated_at=clock.now(), today=today,
        current_year=financial_year(today),
        decisions=[decision_row(d) for d in list_decisions(session)],
        budget=by_year_and_budget(detail), budget_detail=detail,
        workstreams=[_workstream("Smartphone rollout", sources.rollout_progress(session)),
                     _workstream("OneDrive migration", sources.migration_progress(session))],
        unit_costs=unit_costs(session, sources), refresh=refresh,
        refresh_note=(f"{purchases.source}; service life "
                      f"{settings.handset_service_life_years} years") if purchases.available
        else purchases.note,
        thresholds=flagged_commitments(session, settings),
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
