"""Review load per wave, for planning: how many of a wave's people and files still await a
retention review decision, how many are past their deadline and how many were escalated.
Files awaiting review do not move, and block the person's cutover unless overridden, so
a wave whose load is high is not ready to cut over (docs/retention.md, "Sizing review")."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import case, distinct, func, select
from sqlalchemy.orm import Session

from mobilise.core.actor import Actor
from mobilise.core.clock import SystemClock
from mobilise.core.settings import Settings
from mobilise.migration.models import MigrationRound, PersonMigration, RoundKind, RoundStatus
from mobilise.people.models import Person
from mobilise.retention.models import OPEN_REVIEW, ReviewItem, ReviewStatus, RuleSetVersion
from mobilise.retention.scanned import active_rule_set, queue_scanned

EMPTY = {"people": 0, "files": 0, "bytes": 0, "overdue": 0, "escalated": 0}
LOAD_COLUMNS = ["people", "files", "bytes", "overdue", "escalated"]


def review_load(session: Session, wave_ids: Sequence[int] | None = None, *,
                today: date | None = None) -> dict[int, dict[str, int]]:
    """Per wave id: people with files awaiting review, those files and their bytes, how
    many are overdue (pending past their deadline) and how many escalated. Items of the
    rule set in force only: a migration decides by it alone."""
    today = today or SystemClock().now().date()
    late = (ReviewItem.status == ReviewStatus.PENDING.value) & (ReviewItem.due_on < today)
    overdue = case((late, 1), else_=0)
    escalated = case((ReviewItem.status == ReviewStatus.ESCALATED.value, 1), else_=0)
    query = (select(PersonMigration.wave_id, func.count(distinct(ReviewItem.person)),
                    func.count(ReviewItem.id), func.coalesce(func.sum(ReviewItem.size), 0),
                    func.coalesce(func.sum(overdue), 0), func.coalesce(func.sum(escalated), 0))
             .join(Person, Person.number == ReviewItem.person)
             .join(PersonMigration, PersonMigration.person_id == Person.id)
             .where(ReviewItem.status.in_(OPEN_REVIEW))
             .group_by(PersonMigration.wave_id))
    active = active_rule_set(session)
    if active is not None:
        query = query.where(ReviewItem.rule_set_id == active.id)
    if wave_ids is not None:
        query = query.where(PersonMigration.wave_id.in_(list(wave_ids)))
    return {int(row[0]): {key: int(value) for key, value in zip(LOAD_COLUMNS, row[1:],
                                                                  strict=True)}
            for row in session.execute(query)}


def load_of(session: Session, wave_id: int, *, today: date | None = None) -> dict[str, int]:
    return review_load(session, [wave_id], today=today).get(wave_id, dict(EMPTY))


def cutover_dates(session: Session, numbers: Sequence[str] | None = None) -> dict[str, date]:
    """Person number -> the date of the next planned cutover of a wave they are in (where
    one is scheduled): a review deadline is never later than it."""
    query = (select(Person.number, func.min(MigrationRound.scheduled_for))
             .join(PersonMigration, PersonMigration.person_id == Person.id)
             .join(MigrationRound, MigrationRound.wave_id == PersonMigration.wave_id)
             .where(MigrationRound.kind == RoundKind.CUTOVER.value,
                    MigrationRound.status == RoundStatus.PLANNED.value,
                    MigrationRound.scheduled_for.is_not(None))
             .group_by(Person.number))
    if numbers is not None:
        query = query.where(Person.number.in_(list(numbers)))
    return {number: when.date() for number, when in session.execute(query) if when}


def load_rows(session: Session, *, today: date | None = None) -> list[dict[str, Any]]:
    """Every wave with its review load, for the CLI and the API."""
    from mobilise.migration.waves import list_waves

    waves = list_waves(session)
    loads = review_load(session, [w.id for w in waves], today=today)
    return [{"wave": w.name, **loads.get(w.id, EMPTY)} for w in waves]


def queue_for_review(session: Session, actor: Actor, settings: Settings,
                     version: RuleSetVersion, as_of: date, *, rule: str | None = None,
                     person: str | None = None, people: Sequence[str] | None = None) -> int:
    """Queue the scanned drives' files (or those of ``people``) due for review, each
    person's with a deadline of ``retention_review_days`` that never passes their wave's
    planned cutover."""
    whose = [person] if person else (list(people) if people is not None else None)
    return queue_scanned(session, actor, version, as_of, rule=rule, person=person,
                         people=people, review_days=settings.retention_review_days,
                         cutovers=cutover_dates(session, whose))
