"""Leavers' and orphan drives: their own queue, outside the migration.

A leaver's drive is never migrated (there is no account to receive it but a disabled
one), and an orphan drive has nobody to migrate it to. Discovery finds both; each gets a
case here with what the rule set in force proposes, and a records manager records the
decision and why. Every orphan ends with a recorded decision.

What the rule set proposes, from its rules about leavers (``status: leaver`` or
``from: leaver``), most retaining first:

* ``archive`` or ``migrate``: archive, for the rule's period from the leaving date (a
  leaver's drive is never migrated);
* ``review``: review by a records manager (the roster names no line manager);
* ``dispose``: dispose through an approved disposal batch once the period has run from
  the leaving date (never before, and never while a hold applies);
* no leaver rule, or an orphan (no person, so no leaving date to count from): review.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mobilise.core import audit
from mobilise.core.actor import Actor
from mobilise.core.clock import Clock, SystemClock
from mobilise.core.errors import Conflict, InvalidInput, NotFound
from mobilise.core.settings import Settings
from mobilise.drives import estate
from mobilise.people.models import Person
from mobilise.retention.models import DriveCase, DriveCaseKind, DriveOutcome
from mobilise.retention.rule_sets import require_records_manager
from mobilise.retention.rules import Action, CountsFrom, Rule, RuleSet, Status

# Which leaver rule speaks for the drive when several do: retaining beats deleting, as
# in the rule set's own precedence.
_RETAINING_FIRST = {Action.ARCHIVE: 0, Action.MIGRATE: 0, Action.REVIEW: 1, Action.DISPOSE: 2}


@dataclass(frozen=True)
class Proposal:
    outcome: DriveOutcome
    rule: str | None
    why: str
    due_on: date | None


def _leaver_rules(rule_set: RuleSet) -> list[Rule]:
    rules = [r for r in rule_set.rules
             if r.selector.status is Status.LEAVER or r.counts_from is CountsFrom.LEAVER]
    return sorted(rules, key=lambda r: _RETAINING_FIRST[r.action])


def propose(rule_set: RuleSet | None, person: Person | None) -> Proposal:
    """What the rule set in force says for a leaver's (or an orphan) drive."""
    if person is None:
        return Proposal(DriveOutcome.REVIEW, None, "an orphan drive: no person, so no "
                        "leaving date to count a retention period from", None)
    rules = _leaver_rules(rule_set) if rule_set else []
    if not rules:
        return Proposal(DriveOutcome.REVIEW, None, "no rule of the rule set in force speaks "
                        "for leavers' drives", None)
    rule = rules[0]
    due = rule.period.after(person.left_on) if rule.period and person.left_on else None
    period = f" for {rule.period}" if rule.period else " for ever"
    if rule.action in (Action.ARCHIVE, Action.MIGRATE):
        return Proposal(DriveOutcome.ARCHIVE, rule.id, f"{rule.title}: archived{period} "
                        f"from leaving ({rule.authority}); never migrated into a disabled "
                        "account", due)
    if rule.action is Action.REVIEW:
        return Proposal(DriveOutcome.REVIEW, rule.id, f"{rule.title} ({rule.authority})", due)
    return Proposal(DriveOutcome.DISPOSE, rule.id, f"{rule.title}: disposed through an "
                    f"approved batch{' once the period has run' if rule.period else ''} "
                    f"({rule.authority})", due)


@dataclass(frozen=True)
class QueueRefresh:
    added: int
    open: int


def refresh_queue(session: Session, actor: Actor, settings: Settings,
                  rule_set: RuleSet | None, *, clock: Clock | None = None) -> QueueRefresh:
    """Discover leavers' and orphan drives and give each new one a case with the rule
    set's proposal; an open case's proposal follows the rule set now in force."""
    people = estate.select_people(session, everyone=True, include_leavers=True)
    found = estate.discover(settings, people)
    by_number = {p.number: p for p in people}
    drives: list[tuple[str, DriveCaseKind, Person | None]] = [
        (m.home, DriveCaseKind.LEAVER, by_number.get(m.person_key))
        for m in found.matched if m.leaver]
    drives += [(home, DriveCaseKind.ORPHAN, None) for home in found.orphans]
    known = {c.home: c for c in session.scalars(select(DriveCase))}
    now = (clock or SystemClock()).now()
    added = 0
    for home, kind, person in drives:
        proposal = propose(rule_set, person)
        case = known.get(home)
        if case is None:
            audit.create(session, actor, "drive_case.open", DriveCase(
                home=home, kind=kind.value, person_id=person.id if person else None,
                found_at=now, **_proposed(proposal)))
            added += 1
        elif case.outcome is None and _proposed(proposal) != _proposed_of(case):
            with audit.change(session, actor, "drive_case.propose", case):
                for key, value in _proposed(proposal).items():
                    setattr(case, key, value)
    session.flush()
    still_open = len(session.scalars(select(DriveCase.id).where(
        DriveCase.outcome.is_(None))).all())
    return QueueRefresh(added, still_open)


def _proposed(p: Proposal) -> dict[str, object]:
    return {"proposed": p.outcome.value, "proposed_rule": p.rule, "proposed_why": p.why,
            "due_on": p.due_on}


def _proposed_of(case: DriveCase) -> dict[str, object]:
    return {"proposed": case.proposed, "proposed_rule": case.proposed_rule,
            "proposed_why": case.proposed_why, "due_on": case.due_on}


def cases(session: Session, *, open_only: bool = False,
          kind: str | None = None) -> Sequence[DriveCase]:
    stmt = select(DriveCase).order_by(DriveCase.kind, DriveCase.home)
    if open_only:
        stmt = stmt.where(DriveCase.outcome.is_(None))
    if kind:
        stmt = stmt.where(DriveCase.kind == kind)
    return session.scalars(stmt).all()


def get_case(session: Session, case_id: int) -> DriveCase:
    case = session.get(DriveCase, case_id)
    if case is None:
        raise NotFound(f"no leaver's or orphan drive case {case_id}")
    return case


def decide(session: Session, actor: Actor, case_id: int, outcome: str, reason: str,
           *, clock: Clock | None = None) -> DriveCase:
    """Record a records manager's decision. One winner: the case is decided once."""
    require_records_manager(actor, "decide what happens to a leaver's or orphan drive")
    try:
        chosen = DriveOutcome(outcome)
    except ValueError:
        raise InvalidInput(f"outcome {outcome!r}: one of "
                           f"{', '.join(o.value for o in DriveOutcome)}") from None
    if not reason.strip():
        raise InvalidInput("a decision on a drive needs a reason")
    case = get_case(session, case_id)
    done = session.execute(
        update(DriveCase).where(DriveCase.id == case.id, DriveCase.outcome.is_(None))
        .values(outcome=chosen.value, decided_by=actor.name,
                decided_at=(clock or SystemClock()).now(), reason=reason.strip())
        .execution_options(synchronize_session=False))
    if done.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        session.refresh(case)
        raise Conflict(f"the drive {case.home} was decided already by {case.decided_by}: "
                       f"{case.outcome} ({case.reason})")
    audit.event(session, actor, "drive_case.decide", "retention_drive_case", str(case.id),
                {"home": case.home, "kind": case.kind, "outcome": chosen.value,
                 "proposed": case.proposed}, reason=reason.strip())
    session.refresh(case)
    return case
