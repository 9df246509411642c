"""Disposition review: files a rule sends to ``review`` queue per person and per rule; the
person (self-service) or a records manager decides keep (migrate or archive) or dispose,
always with a justification; decisions can be taken in bulk for a whole rule.

Each item is routed: assigned to its person with a deadline (``retention_review_days``
from queueing, never past the person's wave cutover). ``retention.routing`` reminds them
before it and, when it lapses, escalates the item to their line manager (or, with none,
to the records team's pool)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from mobilise.core import audit
from mobilise.core.actor import Actor
from mobilise.core.clock import Clock, SystemClock
from mobilise.core.db import serialise_on
from mobilise.core.errors import Conflict, InvalidInput, NotFound
from mobilise.core.transitions import Context, Lifecycle, Transition, run_transition
from mobilise.retention.evaluate import Estate, Hold, Sql, evaluate
from mobilise.retention.models import (
    OPEN_REVIEW,
    RECORDS_POOL,
    ReviewDecision,
    ReviewItem,
    ReviewStatus,
    RuleSetVersion,
)
from mobilise.retention.rule_sets import RECORDS, parsed
from mobilise.retention.rules import RuleSet

REVIEW_DAYS = 14  # the default of the retention_review_days setting


def person_of(session: Session, actor: Actor) -> str | None:
    """The number of the person a signed-in user is (their account's ``person_id``)."""
    from mobilise.core.auth import User
    from mobilise.people.models import Person

    if actor.user_id is None:
        return None
    return session.scalar(select(Person.number).join(User, User.person_id == Person.id)
                          .where(User.id == actor.user_id))


def _may_decide(ctx: Context, item: ReviewItem) -> str | None:
    if ctx.actor.has_any(RECORDS) or ctx.actor.name == item.person:
        return None
    # Looked up once per run, not per item: a bulk decision may cover thousands.
    if "me" not in ctx.params:
        ctx.params["me"] = person_of(ctx.session, ctx.actor)
    me = ctx.params["me"]
    if me is not None and me in (item.person, item.assigned_to):
        return None
    return "only the person, the line manager it was escalated to, or a records manager " \
           "may decide"


def _floor_passed(ctx: Context, item: ReviewItem) -> str | None:
    """A dispose decision waits for the floor of the rule's class of records (MoPI's six
    years, say): the file's date is the rule's date counted back from ``eligible_since``."""
    if ctx.params.get("decision") != ReviewDecision.DISPOSE.value:
        return None
    cache: dict[int, RuleSet] = ctx.params.setdefault("rule_sets", {})
    if item.rule_set_id not in cache:  # parsed once per run, not per item
        cache[item.rule_set_id] = parsed(item.rule_set)
    rule_set = cache[item.rule_set_id]
    try:
        rule = rule_set.rule(item.rule)
    except KeyError:
        return None
    floor = rule_set.floor_for(rule)
    if floor is None:
        return None
    today: date = ctx.params["clock"].now().date()
    if item.eligible_since is not None and rule.period is not None:
        kept_until = floor.minimum.after(rule.period.before(item.eligible_since))
        if kept_until <= today:
            return None
        when = f"before {kept_until}"
    else:
        when = "while its date is unknown"
    return (f"{item.path}: {rule.records_class} cannot be disposed of {when} "
            f"(floor {floor.minimum}: {floor.authority})")


def _valid_decision(ctx: Context, _item: ReviewItem) -> str | None:
    decision = ctx.params.get("decision")
    if decision not in {d.value for d in ReviewDecision}:
        return f"decision {decision!r}: one of {', '.join(d.value for d in ReviewDecision)}"
    return None


def _record_decision(ctx: Context, item: ReviewItem) -> None:
    item.decision = ctx.params["decision"]
    item.justification = ctx.reason
    item.decided_by = ctx.actor.name
    item.decided_at = ctx.params["clock"].now()


def _lapsed(ctx: Context, item: ReviewItem) -> str | None:
    today: date = ctx.params["clock"].now().date()
    if item.due_on is None or item.due_on >= today:
        return f"review item {item.id} is not overdue"
    return None


def _record_escalation(ctx: Context, item: ReviewItem) -> None:
    """To the line manager named in ``params['to']`` per person, else the records pool."""
    manager = ctx.params["to"].get(item.person)
    item.escalated_at = ctx.params["clock"].now()
    item.escalated_to = manager or RECORDS_POOL
    item.assigned_to = manager


REVIEW = Lifecycle[ReviewItem](
    entity="review_item",
    state_attr="status",
    transitions=[
        Transition("decide", frozenset(OPEN_REVIEW), ReviewStatus.DECIDED.value,
                   guards=(_may_decide, _valid_decision, _floor_passed),
                   effects=(_record_decision,), needs_reason=True, label="Decide"),
        Transition("escalate", frozenset({ReviewStatus.PENDING.value}),
                   ReviewStatus.ESCALATED.value, guards=(_lapsed,),
                   effects=(_record_escalation,), needs_reason=True, label="Escalate"),
    ],
)


def deadline(queued: date, days: int, cutover: date | None) -> date:
    """``days`` after queueing, but never after the person's wave cutover (nor before
    the day it is queued: a cutover already past leaves them today)."""
    due = queued + timedelta(days=days)
    if cutover is not None:
        due = max(queued, min(due, cutover))
    return due


def queue_reviews(
    session: Session, actor: Actor, version: RuleSetVersion, estate: Estate, as_of: date,
    holds: Sequence[Hold] = (), *, person: str | None = None, rule: str | None = None,
    clock: Clock | None = None, review_days: int = REVIEW_DAYS,
    cutovers: Mapping[str, date] | None = None,
) -> int:
    """Create a review item for each file the rule set sends to review that is due by
    ``as_of`` (held files wait for the hold's release), assigned to its person with a
    deadline (``deadline``; ``cutovers`` gives a person's wave cutover date, where known).
    Returns the number queued."""
    rule_set = parsed(version)
    where = Sql("i.person = ?", [person]) if person is not None else None
    evaluate(estate, rule_set, as_of, holds, table="review_due", where=where)
    filters = "action = 'review' AND coalesce(eligible_since, ?) <= ?"
    params: list[Any] = [as_of, as_of]
    if rule is not None:
        filters += " AND rule = ?"
        params.append(rule)
    rows = estate.con.execute(
        f"SELECT person, path, size, rule, eligible_since FROM review_due WHERE {filters} "
        "ORDER BY person, path", params).fetchall()
    # A file is queued once: concurrent queueings under this version run in turn from
    # here (its row locked), so each sees what the one before it committed.
    serialise_on(session, RuleSetVersion.__table__, RuleSetVersion.id == version.id)
    existing = {
        (p, f) for p, f in session.execute(
            select(ReviewItem.person, ReviewItem.path)
            .where(ReviewItem.rule_set_id == version.id)
            .where(*([ReviewItem.person == person] if person is not None else []))
        )
    }
    created = 0
    now = (clock or SystemClock()).now()
    for owner, path, size, rule_id, since in rows:
        if (owner, path) in existing:
            continue
        audit.create(session, actor, "retention.review.queue", ReviewItem(
            rule_set_id=version.id, person=owner, path=path, size=size, rule=rule_id,
            eligible_since=since, status=ReviewStatus.PENDING.value, assigned_to=owner,
            queued_at=now, due_on=deadline(now.date(), review_days,
                                           (cutovers or {}).get(owner))))
        created += 1
    session.flush()
    return created


def decide(
    session: Session, actor: Actor, item_ids: Sequence[int], decision: str, justification: str,
    *, clock: Clock | None = None,
) -> list[ReviewItem]:
    items = list(session.scalars(select(ReviewItem).where(ReviewItem.id.in_(item_ids))))
    missing = set(item_ids) - {i.id for i in items}
    if missing:
        raise NotFound(f"no review item(s) {sorted(missing)}")
    return _run(session, actor, items, decision, justification, clock)


def decide_rule(
    session: Session, actor: Actor, version: RuleSetVersion, rule: str, decision: str,
    justification: str, *, person: str | None = None, clock: Clock | None = None,
) -> list[ReviewItem]:
    """Bulk: the same decision on every open item (pending or escalated) of one rule
    (optionally one person)."""
    query = select(ReviewItem).where(
        ReviewItem.rule_set_id == version.id, ReviewItem.rule == rule,
        ReviewItem.status.in_(OPEN_REVIEW))
    if person is not None:
        query = query.where(ReviewItem.person == person)
    items = list(session.scalars(query.order_by(ReviewItem.id)))
    if not items:
        decided = session.scalar(select(ReviewItem.id).where(
            ReviewItem.rule_set_id == version.id, ReviewItem.rule == rule).limit(1))
        if decided is not None:  # they were there: decided by someone else meanwhile
            raise Conflict(f"every review item for rule {rule!r} is already decided")
        raise InvalidInput(f"no pending review items for rule {rule!r}")
    return _run(session, actor, items, decision, justification, clock)


def _run(session: Session, actor: Actor, items: list[ReviewItem], decision: str,
         justification: str, clock: Clock | None) -> list[ReviewItem]:
    run_transition(session, actor, REVIEW, "decide", items, reason=justification,
                   decision=decision, clock=clock or SystemClock())
    session.flush()
    return items


MAX_PAGE = 1000


@dataclass
class ItemPage:
    """One page of review items, with the number that match the filters."""

    items: list[ReviewItem]
    total: int
    limit: int
    offset: int

    def as_dict(self) -> dict[str, Any]:
        return {"total": self.total, "limit": self.limit, "offset": self.offset,
                "items": [item_row(i) for i in self.items]}


def item_row(item: ReviewItem) -> dict[str, Any]:
    return {"id": item.id, "person": item.person, "path": item.path, "size": item.size,
            "rule": item.rule, "eligible_since": item.eligible_since, "status": item.status,
            "decision": item.decision, "justification": item.justification,
            "decided_by": item.decided_by, "decided_at": item.decided_at,
            "assigned_to": item.assigned_to, "due_on": item.due_on,
            "escalated_at": item.escalated_at, "escalated_to": item.escalated_to}


OPEN = "open"  # a status filter: pending or escalated, everything awaiting a decision
STATUSES = (OPEN, *(s.value for s in ReviewStatus))


def list_items(
    session: Session, *, status: str | None = OPEN,
    person: str | None = None, rule: str | None = None, decision: str | None = None,
    limit: int = 100, offset: int = 0, reviewer: str | None = None,
) -> ItemPage:
    """Review items by status (``open``: pending or escalated), person, rule and decision,
    a page at a time (by person, rule, then id: a stable order, so pages neither skip nor
    repeat items). ``reviewer``: a person's own items and those escalated to them."""
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"status {status!r}: one of {', '.join(STATUSES)}")
    if decision is not None and decision not in {d.value for d in ReviewDecision}:
        raise InvalidInput(f"decision {decision!r}: one of "
                           f"{', '.join(d.value for d in ReviewDecision)}")
    if not 1 <= limit <= MAX_PAGE or offset < 0:
        raise InvalidInput(f"limit is 1 to {MAX_PAGE} and offset 0 or more")
    filters = [column == value for column, value in (
        (ReviewItem.status, None if status == OPEN else status), (ReviewItem.person, person),
        (ReviewItem.rule, rule), (ReviewItem.decision, decision)) if value is not None]
    if status == OPEN:
        filters.append(ReviewItem.status.in_(OPEN_REVIEW))
    if reviewer is not None:
        filters.append(or_(ReviewItem.person == reviewer, ReviewItem.assigned_to == reviewer))
    total = session.scalar(select(func.count()).select_from(ReviewItem).where(*filters)) or 0
    items = session.scalars(select(ReviewItem).where(*filters).order_by(
        ReviewItem.person, ReviewItem.rule, ReviewItem.id).limit(limit).offset(offset))
    return ItemPage(list(items), int(total), limit, offset)


def review_queue(
    session: Session, *, by: str = "person", status: str | None = OPEN
) -> list[dict[str, Any]]:
    """Counts and bytes of review items per person or per rule (open ones by default),
    with how many of them are escalated."""
    column = ReviewItem.person if by == "person" else ReviewItem.rule
    escalated = func.sum(case((ReviewItem.status == ReviewStatus.ESCALATED.value, 1),
                              else_=0))
    query = select(column.label(by), func.count().label("files"),
                   func.coalesce(func.sum(ReviewItem.size), 0).label("bytes"),
                   func.coalesce(escalated, 0).label("escalated")).group_by(column)
    if status == OPEN:
        query = query.where(ReviewItem.status.in_(OPEN_REVIEW))
    elif status is not None:
        query = query.where(ReviewItem.status == status)
    return [dict(r._mapping) for r in session.execute(query.order_by(func.count().desc()))]


def pending_for(session: Session, actor: Actor) -> int:
    """How many files await the signed-in person's decision: their own and those escalated
    to them as line manager (0 if the account is not linked to a person)."""
    number = person_of(session, actor)
    if number is None:
        return 0
    return session.scalar(select(func.count()).select_from(ReviewItem).where(
        or_(ReviewItem.person == number, ReviewItem.assigned_to == number),
        ReviewItem.status.in_(OPEN_REVIEW))) or 0
