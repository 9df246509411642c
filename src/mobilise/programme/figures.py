"""The programme's headline figures, each worked out by exactly one function here.

Handsets issued, people eligible, people migrated, data moved, files by retention
outcome, spend and the rollout's forecast finish: the overview, the board report (page,
HTML document, PDF and JSON), ``mobilise report figures`` and ``/api/v1/figures`` all
read them from these functions, so no two surfaces can disagree. Each answers a
``Figure``: the value (or None with the reason), the day it holds for, and where it
comes from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Generic, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mobilise.core.clock import Clock
from mobilise.core.settings import Settings
from mobilise.core.words import size_text
from mobilise.devices.models import Handset, HandsetStatus
from mobilise.finance.money import format_pounds
from mobilise.finance.variance import by_year_and_budget, horizon, variance_lines
from mobilise.finance.years import FinancialYear
from mobilise.migration.models import MigrationRound, MigrationState, PersonMigration, RoundStatus
from mobilise.people.models import Person, PersonStatus
from mobilise.retention.dry_run import latest_recorded
from mobilise.rollout import reports as rollout
from mobilise.rollout.planning import RolloutRecords

T = TypeVar("T")
TIB = 1024**4


@dataclass(frozen=True)
class Figure(Generic[T]):
    """One headline figure: ``text`` is how every surface shows it."""

    key: str
    label: str
    value: T | None
    text: str
    as_of: date
    source: str

    def row(self) -> dict[str, Any]:
        value: Any = self.value
        if isinstance(value, (SpendTotals, FinishForecast)):
            value = value.as_dict()
        return {"key": self.key, "label": self.label, "value": value, "text": self.text,
                "as_of": self.as_of, "source": self.source}


@dataclass(frozen=True)
class SpendTotals:
    """Over every decision, year, budget type and purpose, in pence."""

    approved: int
    committed: int
    actual: int
    forecast: int
    through: int  # the last year counted (open-ended envelopes have no end of their own)

    def as_dict(self) -> dict[str, Any]:
        return {"approved_pence": self.approved, "committed_pence": self.committed,
                "actual_pence": self.actual, "forecast_pence": self.forecast,
                "through": FinancialYear(self.through).label}


@dataclass(frozen=True)
class FinishForecast:
    """The rollout's projection from today at the recent weekly rate (``rollout.reports``)."""

    finish: date | None
    deadline: date
    rate_per_week: float
    remaining: int

    @property
    def days_late(self) -> int | None:
        return (self.finish - self.deadline).days if self.finish else None

    @property
    def at_risk(self) -> bool:
        return self.finish is None or self.finish > self.deadline

    def as_dict(self) -> dict[str, Any]:
        return {"finish": self.finish, "deadline": self.deadline,
                "rate_per_week": round(self.rate_per_week, 1), "remaining": self.remaining,
                "deadline_at_risk": self.at_risk}


def _eligible(session: Session) -> Any:
    return select(Person.id).where(Person.status == PersonStatus.ACTIVE.value,
                                   Person.eligible.is_(True))


def handsets_issued(session: Session, clock: Clock) -> Figure[int]:
    """Eligible active people holding an issued handset in the register (a person holding
    two, by an adjustment, counts once): the rollout's own count of hand-overs."""
    issued = session.scalar(
        select(func.count(func.distinct(Handset.holder_id)))
        .where(Handset.status == HandsetStatus.ISSUED.value,
               Handset.holder_id.in_(_eligible(session)))) or 0
    return Figure("handsets_issued", "Handsets issued", issued,
                  f"{issued:,} eligible people hold an issued handset", clock.today(),
                  "handset register")


def people_eligible(session: Session, clock: Clock) -> Figure[int]:
    eligible = session.scalar(select(func.count()).select_from(_eligible(session).subquery())
                              ) or 0
    return Figure("people_eligible", "People eligible for a handset", eligible,
                  f"{eligible:,} active people eligible for a handset", clock.today(),
                  "people register")


def people_migrated(session: Session, clock: Clock) -> Figure[int]:
    """People whose H: drive is migrated (once each, whatever waves they were in)."""
    migrated = session.scalar(select(func.count(func.distinct(PersonMigration.person_id)))
                              .where(PersonMigration.state == MigrationState.MIGRATED.value)
                              ) or 0
    return Figure("people_migrated", "People migrated", migrated,
                  f"{migrated:,} {'person' if migrated == 1 else 'people'} migrated to OneDrive",
                  clock.today(), "migration waves")


def data_moved(session: Session, clock: Clock) -> Figure[int]:
    """Bytes copied out of the H: drives (to OneDrive, or the archive where the rules keep
    a file there) by every finished round (a failed round copied bytes too), as each
    round's summary totals its journal; shown in the unit that fits."""
    finished = [RoundStatus.DONE.value, RoundStatus.FAILED.value]
    summaries: list[dict[str, Any] | None] = list(session.scalars(
        select(MigrationRound.summary).where(MigrationRound.status.in_(finished))))
    moved = sum(int((s or {}).get("bytes_copied", 0)) for s in summaries)
    return Figure("data_moved", "Data moved", moved,
                  f"{size_text(moved)} copied from H: drives to OneDrive and the archive",
                  clock.today(),
                  "migration round totals")


def terabytes(moved: int) -> Decimal:
    return (Decimal(moved) / Decimal(TIB)).quantize(Decimal("0.001"))


def files_by_retention_outcome(session: Session, clock: Clock) -> Figure[dict[str, int]]:
    """Files per action in the latest recorded dry run (as of when it ran)."""
    latest = latest_recorded(session)
    if latest is None:
        return Figure("files_by_retention_outcome", "Files by retention outcome", None,
                      "no retention dry run recorded yet", clock.today(), "audit log")
    outcomes = {str(r["action"]): int(r["files"]) for r in latest["by_action"]}
    parts = ", ".join(f"{action} {files:,}" for action, files in outcomes.items())
    return Figure("files_by_retention_outcome", "Files by retention outcome", outcomes,
                  f"{latest['rule_set']} v{latest['version']}: {parts}",
                  latest["ran_at"].date(), "latest recorded retention dry run")


def spend(session: Session, clock: Clock) -> Figure[SpendTotals]:
    """Over every year to ``horizon`` (open-ended envelopes counted in each of those)."""
    last = horizon(session)
    lines = by_year_and_budget(variance_lines(session, through=last))
    totals = SpendTotals(sum(x.envelope for x in lines), sum(x.committed for x in lines),
                         sum(x.actual for x in lines), sum(x.forecast for x in lines), last)
    text = (f"{format_pounds(totals.actual)} spent, {format_pounds(totals.committed)} "
            f"committed, forecast {format_pounds(totals.forecast)} against "
            f"{format_pounds(totals.approved)} approved to {FinancialYear(last).label}")
    return Figure("spend", "Spend", totals, text, clock.today(),
                  "decision envelopes, purchase orders and invoices")


def forecast_finish(session: Session, settings: Settings, clock: Clock
                    ) -> Figure[FinishForecast]:
    """The rollout's forecast finish, projected from today (never from the last hand-over)
    by the one forecast ``mobilise rollout forecast`` shows."""
    fc = rollout.forecast(session, RolloutRecords(managed_before=settings.rollout_managed_before),
                          settings, clock)
    value = FinishForecast(fc.finish, fc.deadline, fc.rate_per_week, fc.remaining)
    if fc.remaining <= 0:
        text = f"finished: all {fc.total:,} eligible people hold a handset"
    elif fc.finish is None:
        text = (f"no hand-overs in the last {rollout.RECENT_WEEKS} weeks: cannot forecast "
                f"a finish; deadline {fc.deadline:%d %B %Y} at risk")
    elif value.at_risk:
        text = (f"forecast to finish {fc.finish:%d %B %Y}, {value.days_late} days after the "
                f"deadline ({fc.deadline:%d %B %Y})")
    else:
        text = f"forecast to finish {fc.finish:%d %B %Y}, by the deadline ({fc.deadline:%d %B %Y})"
    return Figure("forecast_finish", "Rollout forecast finish", value, text, clock.today(),
                  "handset register hand-overs, recent weekly rate")


def headline(session: Session, settings: Settings, clock: Clock) -> list[Figure[Any]]:
    """Every headline figure, in the order the surfaces list them."""
    return [handsets_issued(session, clock), people_eligible(session, clock),
            people_migrated(session, clock), data_moved(session, clock),
            files_by_retention_outcome(session, clock), spend(session, clock),
            forecast_finish(session, settings, clock)]


def by_key(figures: list[Figure[Any]]) -> dict[str, Figure[Any]]:
    return {f.key: f for f in figures}
