"""Stock deliveries: expected, received, and slipped (which moves the plan)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilise.core import audit
from mobilise.core.actor import Actor
from mobilise.core.errors import InvalidInput, NotFound
from mobilise.people.models import Site
from mobilise.rollout.models import StockDelivery

DELIVERY_COLUMNS = ["id", "reference", "model", "expected_on", "quantity", "received_on"]


def add_delivery(session: Session, actor: Actor, expected_on: date, quantity: int,
                 reference: str = "", model: str = "") -> StockDelivery:
    """Record an expected delivery; ``model`` names an alternative model ('' standard)."""
    if quantity <= 0:
        raise InvalidInput("a delivery has a positive quantity")
    row = StockDelivery(expected_on=expected_on, quantity=quantity, reference=reference,
                        model=model)
    audit.create(session, actor, "delivery.add", row)
    session.flush()
    return row


def get_delivery(session: Session, delivery_id: int) -> StockDelivery:
    found = session.get(StockDelivery, delivery_id)
    if found is None:
        raise NotFound(f"no delivery {delivery_id}")
    return found


def receive(session: Session, actor: Actor, delivery: StockDelivery, on: date) -> None:
    if delivery.received_on is not None:
        raise InvalidInput(f"delivery {delivery.id} was received on {delivery.received_on}")
    with audit.change(session, actor, "delivery.receive", delivery):
        delivery.received_on = on


def expect(session: Session, actor: Actor, delivery: StockDelivery, on: date,
           reason: str) -> None:
    """The supplier moved a delivery: record the new date (re-plan to move the plan)."""
    if delivery.received_on is not None:
        raise InvalidInput(f"delivery {delivery.id} was already received")
    if not reason.strip():
        raise InvalidInput("say why the delivery moved")
    with audit.change(session, actor, "delivery.expect", delivery, reason=reason):
        delivery.expected_on = on


def deliveries(session: Session) -> list[StockDelivery]:
    return list(session.scalars(select(StockDelivery).order_by(StockDelivery.expected_on,
                                                               StockDelivery.id)))


def get_site(session: Session, code: str) -> Site:
    found = session.scalar(select(Site).where(Site.code == code))
    if found is None:
        raise NotFound(f"no site {code!r}")
    return found
