"""Reasonable adjustments: a person asks (in self-service) for their recorded adjustments
to change; the service desk sees the open requests and settles each one, changing the
register when it agrees."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from mobilise.core import audit
from mobilise.core.actor import Actor
from mobilise.core.clock import Clock
from mobilise.core.errors import Conflict, InvalidInput, NotFound
from mobilise.core.transitions import lock
from mobilise.people.models import AdjustmentRequest, Person

OPEN = "open"
SETTLED = "settled"
MAX_TEXT = 2000


def request_change(session: Session, actor: Actor, clock: Clock, person: Person,
                   requested: str) -> AdjustmentRequest:
    """Record ``person``'s request; a second while one is open is refused (the desk
    would not know which to follow)."""
    requested = requested.strip()
    if not requested:
        raise InvalidInput("say what you need changed")
    if len(requested) > MAX_TEXT:
        raise InvalidInput(f"at most {MAX_TEXT} characters, please")
    # Serialise one person's requests on their register row: two at once, one recorded.
    lock(session, [person])
    if open_requests(session, person.id):
        raise Conflict("you already have a change request open; the service desk will "
                       "settle it first")
    row = AdjustmentRequest(person_id=person.id, recorded=person.adjustments,
                            requested=requested, status=OPEN, requested_at=clock.now())
    audit.create(session, actor, "adjustments.request", row)
    session.flush()
    return row


def open_requests(session: Session, person_id: int | None = None) -> list[AdjustmentRequest]:
    query = select(AdjustmentRequest).options(joinedload(AdjustmentRequest.person)).where(
        AdjustmentRequest.status == OPEN)
    if person_id is not None:
        query = query.where(AdjustmentRequest.person_id == person_id)
    return list(session.scalars(query.order_by(AdjustmentRequest.id)))


def settle(session: Session, actor: Actor, clock: Clock, request_id: int, *,
           adjustments: str | None = None) -> AdjustmentRequest:
    """Close a request; with ``adjustments``, the register's record becomes that text."""
    row = session.get(AdjustmentRequest, request_id)
    if row is None:
        raise NotFound(f"no adjustment request {request_id}")
    # Locked and read again: of two desks settling the same request, the second finds it
    # settled.
    lock(session, [row])
    if row.status != OPEN:
        raise Conflict(f"adjustment request {request_id} is already settled")
    with audit.change(session, actor, "adjustments.settle", row):
        row.status = SETTLED
        row.settled_at = clock.now()
        row.settled_by = actor.name
    if adjustments is not None:
        with audit.change(session, actor, "person.adjustments", row.person,
                          reason=f"adjustment request {row.id}"):
            row.person.adjustments = adjustments.strip() or None
    session.flush()
    return row


def request_row(row: AdjustmentRequest) -> dict[str, Any]:
    return {"id": row.id, "person": row.person.number, "recorded": row.recorded,
            "requested": row.requested, "status": row.status,
            "requested_at": row.requested_at, "settled_at": row.settled_at,
            "settled_by": row.settled_by}
