"""The burndown of people migrated, by week and by org unit: planned from each wave's
cutover round date, actual from the audit log's ``migration_person.migrate`` entries (each
records when the person was marked migrated), and a forecast from the recent weekly rate.

Aggregate queries only: one over the wave membership, one over the audit entries."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mobilise.core.audit import AuditEntry
from mobilise.migration.models import MigrationRound, MigrationState, PersonMigration, RoundKind
from mobilise.people.models import OrgUnit, Person

ALL = "all"
UNPLACED = "(none)"  # people without an org unit
COLUMNS = ("week", "org_unit", "people", "planned_migrated", "actual_migrated",
           "planned_remaining", "actual_remaining", "forecast_remaining")
MIGRATE_ACTION = "migration_person.migrate"
FORECAST_LIMIT_WEEKS = 156  # a rate so slow it would take longer is shown as not finishing


def week_of(day: date) -> date:
    """The Monday starting the ISO week of ``day``."""
    return day - timedelta(days=day.weekday())


@dataclass
class Burndown:
    weeks: list[date]
    as_of: date
    people: dict[str, int]  # org unit → people in waves (ALL for everyone)
    planned: dict[str, list[int]] = field(default_factory=dict)  # cumulative, per week
    actual: dict[str, list[int | None]] = field(default_factory=dict)  # None after as_of
    forecast: dict[str, list[int | None]] = field(default_factory=dict)  # None before as_of
    rate: dict[str, float] = field(default_factory=dict)  # people a week, recently

    def rows(self, unit: str | None = None) -> list[dict[str, Any]]:
        units = [unit] if unit else list(self.people)
        out = []
        for u in units:
            total = self.people[u]
            for i, week in enumerate(self.weeks):
                actual, forecast = self.actual[u][i], self.forecast[u][i]
                out.append({"week": week.isoformat(), "org_unit": u, "people": total,
                            "planned_migrated": self.planned[u][i],
                            "actual_migrated": actual,
                            "planned_remaining": total - self.planned[u][i],
                            "actual_remaining": None if actual is None else total - actual,
                            "forecast_remaining": forecast})
        return out

    def finish_week(self, unit: str = ALL) -> date | None:
        """The week the forecast reaches zero, if it does within the chart."""
        for week, left in zip(self.weeks, self.forecast[unit], strict=True):
            if left == 0:
                return week
        return None


def compute(people: dict[str, int], planned: Iterable[tuple[date, str]],
            migrated: Iterable[tuple[date, str]], as_of: date,
            recent_weeks: int = 4) -> Burndown:
    """Pure: ``people`` per org unit, one (day, unit) per person planned to be migrated
    and per person migrated. The forecast continues from the actual remaining at
    ``as_of`` at the mean rate of the last ``recent_weeks`` weeks (including as_of's)."""
    planned_weeks = Counter((week_of(d), u) for d, u in planned)
    migrated_weeks = Counter((week_of(d), u) for d, u in migrated if d <= as_of)
    totals = dict(people)
    totals[ALL] = sum(people.values())
    now = week_of(as_of)
    known = [w for w, _ in planned_weeks] + [w for w, _ in migrated_weeks] + [now]
    first = min(known)
    rates = {u: _rate(migrated_weeks, u, now, recent_weeks) for u in totals}
    left_now = {u: totals[u] - _sum_until(migrated_weeks, u, now) for u in totals}
    last = max(known)
    rate = rates[ALL]
    if left_now[ALL] > 0 and rate > 0:
        last = max(last, now + timedelta(weeks=min(math.ceil(left_now[ALL] / rate),
                                                   FORECAST_LIMIT_WEEKS)))
    weeks = [first + timedelta(weeks=i) for i in range((last - first).days // 7 + 1)]
    result = Burndown(weeks, as_of, totals, rate=rates)
    for u in totals:
        result.planned[u] = _cumulative(planned_weeks, u, weeks)
        actual = _cumulative(migrated_weeks, u, weeks)
        result.actual[u] = [a if w <= now else None for a, w in zip(actual, weeks, strict=True)]
        result.forecast[u] = [
            None if w < now else _forecast_left(left_now[u], rates[u], (w - now).days // 7)
            for w in weeks]
    return result


def _forecast_left(left: int, rate: float, weeks_ahead: int) -> int:
    # Rounded up: a part of a person is still a person left to migrate.
    return max(0, math.ceil(left - rate * weeks_ahead - 1e-9))


def _matches(unit: str, wanted: str) -> bool:
    return wanted == ALL or unit == wanted


def _sum_until(counts: Counter[tuple[date, str]], unit: str, until: date) -> int:
    return sum(n for (w, u), n in counts.items() if w <= until and _matches(u, unit))


def _cumulative(counts: Counter[tuple[date, str]], unit: str, weeks: list[date]) -> list[int]:
    per_week: Counter[date] = Counter()
    for (w, u), n in counts.items():
        if _matches(u, unit):
            per_week[w] += n
    running, out = 0, []
    for w in weeks:  # weeks cover every counted week, so a running sum suffices
        running += per_week[w]
        out.append(running)
    return out


def _rate(counts: Counter[tuple[date, str]], unit: str, now: date, recent: int) -> float:
    start = now - timedelta(weeks=recent - 1)
    done = sum(n for (w, u), n in counts.items() if start <= w <= now and _matches(u, unit))
    return done / recent


def _day(moment: datetime | None) -> date | None:
    return moment.date() if moment is not None else None


def burndown(session: Session, as_of: date, recent_weeks: int = 4) -> Burndown:
    """Everyone in a wave; planned on their wave's cutover date (waves without one are
    counted but not planned); migrated when the audit log says so."""
    unit = func.coalesce(OrgUnit.code, UNPLACED)
    cutover = (select(MigrationRound.wave_id, MigrationRound.scheduled_for)
               .where(MigrationRound.kind == RoundKind.CUTOVER.value).subquery())
    membership = session.execute(
        select(unit, cutover.c.scheduled_for, func.count())
        .select_from(PersonMigration)
        .join(Person, Person.id == PersonMigration.person_id)
        .outerjoin(OrgUnit, OrgUnit.id == Person.org_unit_id)
        .outerjoin(cutover, cutover.c.wave_id == PersonMigration.wave_id)
        .group_by(unit, cutover.c.scheduled_for)).all()
    people: Counter[str] = Counter()
    planned: list[tuple[date, str]] = []
    # A coalesce and a subquery column: SQLAlchemy's stubs type these rows as objects.
    for code, when, count in cast("list[tuple[str, datetime | None, int]]", membership):
        people[code] += count
        day = _day(when)
        if day is not None:
            planned.extend([(day, code)] * count)
    # Two plain queries joined here: matching the audit log's text ids to the numeric
    # keys in SQL defeats the indexes on one side or the other.
    units = dict(session.execute(
        select(PersonMigration.id, unit)
        .join(Person, Person.id == PersonMigration.person_id)
        .outerjoin(OrgUnit, OrgUnit.id == Person.org_unit_id)
        # Only migrated people have a migrate entry: no transition leaves migrated.
        .where(PersonMigration.state == MigrationState.MIGRATED.value)).tuples().all())
    moved = session.execute(select(AuditEntry.entity_id, AuditEntry.at)
                            .where(AuditEntry.action == MIGRATE_ACTION)).tuples().all()
    migrated = [(at.date(), units[int(key)]) for key, at in moved
                if key is not None and key.isdigit() and int(key) in units]
    return compute(dict(people), planned, migrated, as_of, recent_weeks)


def migrated_by_day(session: Session) -> list[tuple[date, int]]:
    """People marked migrated each day, from the audit log, in date order."""
    moments = session.scalars(select(AuditEntry.at).where(AuditEntry.action == MIGRATE_ACTION))
    days = Counter(at.date() for at in moments)
    return sorted(days.items())
