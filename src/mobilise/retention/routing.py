"""Review routing: reminders before a review deadline and escalation once it lapses.

Each review item is assigned to its person with a deadline when it is queued
(``review.deadline``). The sweep, run by a records manager or on a schedule
(``mobilise retention review sweep``), does two things:

* reminds each person whose deadline is within ``retention_review_reminder_days``, once per
  person per review round (the outbox's idempotency key names the rule set, the person and
  the deadline, so a second sweep queues nothing);
* escalates every item still pending after its deadline: to the person's line manager
  (``Person.line_manager`` from the roster) if they are an active person in the register,
  otherwise to the records team's pool. Each escalation is a transition of the item
  (audited). Sweeps run one at a time, and the items are locked and read again before
  escalating, so of two sweeps at once one escalates an item and the other finds it
  already done. The line manager is told once per person and round.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mobilise.comms import outbox, templates
from mobilise.core.actor import Actor
from mobilise.core.clock import Clock, SystemClock
from mobilise.core.db import hold_write_lock, is_postgres
from mobilise.core.settings import Settings
from mobilise.core.transitions import lock, run_transition
from mobilise.people.models import Person, PersonStatus
from mobilise.retention.models import ReviewItem, ReviewStatus
from mobilise.retention.review import REVIEW

SELF_SERVICE = "/retention/review/me"


@dataclass
class SweepResult:
    reminded: list[str] = field(default_factory=list)  # person numbers reminded this time
    escalated: int = 0  # items
    to_managers: dict[str, int] = field(default_factory=dict)  # manager -> items
    to_records: int = 0  # items sent to the records pool (no line manager to take them)

    def as_dict(self) -> dict[str, Any]:
        return {"reminded": len(self.reminded), "escalated": self.escalated,
                "to_line_managers": sum(self.to_managers.values()),
                "line_managers": len(self.to_managers), "to_records": self.to_records}


def sweep(session: Session, actor: Actor, settings: Settings, *,
          clock: Clock | None = None) -> SweepResult:
    """Remind and escalate as of today (see the module's description)."""
    clock = clock or SystemClock()
    _hold_sweep_lock(session)
    templates.ensure_defaults(session, actor, clock)
    result = SweepResult()
    _escalate(session, actor, settings, clock, result)
    _remind(session, settings, clock, result)
    session.flush()
    return result


# Any fixed number, unique among Mobilise's advisory locks: "RVW" in ASCII.
SWEEP_LOCK = 0x525657


def _hold_sweep_lock(session: Session) -> None:
    """Sweeps run one at a time (until the transaction ends): the second finds what the
    first escalated and queued, and two never add the same message template at once.
    PostgreSQL: a transaction advisory lock; SQLite: its one write lock."""
    if is_postgres(session):
        session.execute(select(func.pg_advisory_xact_lock(SWEEP_LOCK)))
    else:
        hold_write_lock(session)


def _remind(session: Session, settings: Settings, clock: Clock, result: SweepResult) -> None:
    today = clock.now().date()
    horizon = today + timedelta(days=settings.retention_review_reminder_days)
    rounds = session.execute(
        select(ReviewItem.rule_set_id, ReviewItem.person, func.min(ReviewItem.due_on),
               func.count())
        .where(ReviewItem.status == ReviewStatus.PENDING.value,
               ReviewItem.due_on.is_not(None), ReviewItem.due_on >= today,
               ReviewItem.due_on <= horizon)
        .group_by(ReviewItem.rule_set_id, ReviewItem.person)
        .order_by(ReviewItem.person)).all()
    people = _people(session, {person for _, person, _, _ in rounds})
    for rule_set_id, number, due, files in rounds:
        person = people.get(number)
        if person is None:
            continue  # an orphan drive: nobody to remind (records managers see it)
        _, new = outbox.queue(
            session, key=f"review-reminder:{rule_set_id}:{number}:{due}",
            template="review_reminder", recipient=person.email, person_id=person.id,
            context={"person": _who(person),
                     "review": {"files": files, "due_on": _day(due), "link": SELF_SERVICE}},
            settings=settings, clock=clock)
        if new:
            result.reminded.append(number)


def _escalate(session: Session, actor: Actor, settings: Settings, clock: Clock,
              result: SweepResult) -> None:
    today = clock.now().date()
    overdue = list(session.scalars(
        select(ReviewItem).where(ReviewItem.status == ReviewStatus.PENDING.value,
                                 ReviewItem.due_on < today).order_by(ReviewItem.id)))
    # Lock, then decide on what is read under the lock: a sweep running alongside has
    # escalated (or someone decided) some of these meanwhile.
    lock(session, overdue)
    overdue = [i for i in overdue if i.status == ReviewStatus.PENDING.value]
    if not overdue:
        return
    people = _people(session, {i.person for i in overdue})
    managers = _people(session, {p.line_manager for p in people.values() if p.line_manager})
    to = {number: _manager(person, managers) for number, person in people.items()}
    run_transition(session, actor, REVIEW, "escalate", overdue,
                   reason="review deadline passed without a decision", clock=clock, to=to)
    by_person: dict[tuple[int, str, date | None], int] = defaultdict(int)
    for item in overdue:
        by_person[(item.rule_set_id, item.person, item.due_on)] += 1
        if item.assigned_to is None:
            result.to_records += 1
        else:
            result.to_managers[item.assigned_to] = result.to_managers.get(item.assigned_to,
                                                                          0) + 1
    result.escalated = len(overdue)
    for (rule_set_id, number, due), files in by_person.items():
        manager_number = to.get(number)
        if manager_number is not None:
            _tell_manager(session, settings, clock, managers[manager_number], people[number],
                          f"review-escalated:{rule_set_id}:{number}:{due}", files, due)


def _tell_manager(session: Session, settings: Settings, clock: Clock, manager: Person,
                  subject: Person, key: str, files: int, due: date | None) -> None:
    outbox.queue(session, key=key, template="review_escalated", recipient=manager.email,
                 person_id=manager.id, settings=settings, clock=clock,
                 context={"person": _who(manager), "subject": _who(subject),
                          "review": {"files": files, "due_on": _day(due),
                                     "link": SELF_SERVICE}})


def _manager(person: Person, managers: dict[str, Person]) -> str | None:
    """The line manager who can take the person's items: an active person in the
    register other than the person themselves; None sends them to the records pool."""
    manager = managers.get(person.line_manager or "")
    if manager is None or manager.status != PersonStatus.ACTIVE.value \
            or manager.number == person.number:
        return None
    return manager.number


def _people(session: Session, numbers: set[str]) -> dict[str, Person]:
    found: dict[str, Person] = {}
    ordered = sorted(numbers)
    for start in range(0, len(ordered), 500):
        chunk = ordered[start:start + 500]
        found.update({p.number: p for p in session.scalars(
            select(Person).where(Person.number.in_(chunk)))})
    return found


def _who(person: Person) -> dict[str, str]:
    return {"first_name": person.first_name, "last_name": person.last_name,
            "number": person.number, "email": person.email}


def _day(day: date | None) -> str:
    return f"{day.day} {day:%B %Y}" if day is not None else "the deadline"
