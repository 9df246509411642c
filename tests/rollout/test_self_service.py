"""A person's own appointment: the rules of booking for oneself, on top of the desk's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from mobilise.core.actor import Actor
from mobilise.core.clock import FixedClock
from mobilise.core.errors import CapacityExceeded, Conflict, InvalidInput, NotFound
from mobilise.people.models import Person, Site
from mobilise.rollout import appointments, self_service
from tests.devices.fleet import Fleet

CLOCK = FixedClock(datetime(2030, 6, 3, 9, tzinfo=UTC))  # a Monday


def _me(fleet: Fleet, n: int) -> Actor:
    person = fleet.people[n]
    return Actor(f"person{n}", user_id=None, person_id=person.id)


def _open(fleet: Fleet, capacity: int = 1) -> None:
    site = fleet.session.scalars(select(Site).where(Site.code == "CE-01")).one()
    days = [CLOCK.today() + timedelta(days=d) for d in range(0, 60)]
    appointments.open_places(fleet.session, site.id, days, capacity)


def test_book_move_and_cancel_my_own(fleet: Fleet) -> None:
    _open(fleet)
    me = _me(fleet, 2)
    tuesday, wednesday = CLOCK.today() + timedelta(days=1), CLOCK.today() + timedelta(days=2)
    booked = self_service.book_mine(fleet.session, me, CLOCK, "CE-01", tuesday)
    assert booked.person_id == fleet.people[2].id and booked.note == self_service.MY_BOOKING
    moved = self_service.move_mine(fleet.session, me, CLOCK, "CE-01", wednesday)
    assert moved.replaces_id == booked.id and booked.status == "rescheduled"
    with pytest.raises(Conflict, match="already at"):
        self_service.move_mine(fleet.session, me, CLOCK, "CE-01", wednesday)
    # Tuesday's place was given back: someone else may take it, and it is then full.
    self_service.book_mine(fleet.session, _me(fleet, 3), CLOCK, "CE-01", tuesday)
    with pytest.raises(CapacityExceeded):
        self_service.book_mine(fleet.session, _me(fleet, 5), CLOCK, "CE-01", tuesday)
    with pytest.raises(InvalidInput, match="say why"):
        self_service.cancel_mine(fleet.session, me, " ")
    assert self_service.cancel_mine(fleet.session, me, "leave").status == "cancelled"
    with pytest.raises(Conflict):
        self_service.cancel_mine(fleet.session, me, "again")
    with pytest.raises(NotFound):
        self_service.my_appointment(fleet.session, me)


@pytest.mark.parametrize(("days", "why"), [
    (0, "one day ahead"), (43, "at most"), (5, "not a working day")])
def test_the_rules_of_booking_for_oneself(fleet: Fleet, days: int, why: str) -> None:
    _open(fleet)
    with pytest.raises(InvalidInput, match=why):
        self_service.book_mine(fleet.session, _me(fleet, 2), CLOCK, "CE-01",
                               CLOCK.today() + timedelta(days=days))


def test_a_holder_a_leaver_and_a_non_issuing_site_are_refused(fleet: Fleet) -> None:
    _open(fleet)
    tuesday = CLOCK.today() + timedelta(days=1)
    with pytest.raises(InvalidInput, match="already hold"):
        self_service.book_mine(fleet.session, _me(fleet, 0), CLOCK, "CE-01", tuesday)
    with pytest.raises(InvalidInput, match="not an issuing site"):
        self_service.book_mine(fleet.session, _me(fleet, 2), CLOCK, "NOWHERE", tuesday)
    person = fleet.session.get(Person, fleet.people[4].id)
    assert person is not None
    from mobilise.core import audit
    from tests.factories import ADMIN
    with audit.change(fleet.session, ADMIN, "person.leave", person):
        person.status = "leaver"
    with pytest.raises(InvalidInput, match="not on the list"):
        self_service.book_mine(fleet.session, _me(fleet, 4), CLOCK, "CE-01", tuesday)


def test_open_days_are_working_days_with_a_place(fleet: Fleet) -> None:
    _open(fleet)
    days = [d["day"] for d in self_service.open_days(fleet.session, CLOCK)]
    assert days and all(d.weekday() < 5 for d in days) and min(days) > CLOCK.today()
    assert max(days) <= CLOCK.today() + timedelta(days=self_service.BOOKING_HORIZON_DAYS)
