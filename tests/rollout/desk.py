"""Handsets on the shelf and hand-overs at the desk, for the rollout tests: the real
catalogue, manifest, lifecycle and hand-over, no shortcuts."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path

from sqlalchemy.orm import Session

from mobilise.core.clock import FixedClock
from mobilise.core.settings import Settings
from mobilise.devices.models import Handset
from mobilise.people.models import Person
from mobilise.rollout.handover import HandOver, hand_over
from tests.devices.fleet import catalogue, stock
from tests.factories import ADMIN


def shelf(session: Session, settings: Settings, tmp: Path, count: int) -> list[Handset]:
    """``count`` handsets enrolled, compliant, with a SIM, in stock at CE-01."""
    catalogue(session, seats=count)
    return stock(session, settings, tmp, range(500, 500 + count))


def hand(session: Session, settings: Settings, handset: Handset, person_id: int,
         day: date) -> HandOver:
    person = session.get(Person, person_id)
    assert person is not None
    desk = FixedClock(datetime.combine(day, time(10), tzinfo=UTC))
    return hand_over(session, ADMIN, settings, desk, handset, person, method="signature")
