"""Appointments: no site-day is ever overbooked (50 concurrent bookers, on SQLite and
PostgreSQL), the lifecycle, and re-planning from actuals."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mobilise.core import audit
from mobilise.core.clock import FixedClock
from mobilise.core.db import session_scope
from mobilise.core.errors import CapacityExceeded, Conflict, TransitionRefused
from mobilise.core.settings import Settings
from mobilise.people.models import Person, Site
from mobilise.rollout import appointments as appts
from mobilise.rollout.models import (
    Appointment,
    AppointmentStatus,
    IssueSlot,
    RolloutPlan,
    StockDelivery,
)
from mobilise.rollout.planning import PlanOptions, RolloutRecords, replan
from tests.factories import ADMIN, load_people
from tests.rollout.desk import hand, shelf

DAY = date(2023, 1, 10)
CLOCK = FixedClock(datetime(2023, 1, 9, 9, tzinfo=UTC))


def site_id(session: Session) -> int:
    return session.scalar(select(Site.id).where(Site.code == "CE-01")) or 0


def person_ids(session: Session) -> list[int]:
    return list(session.scalars(select(Person.id).order_by(Person.id)))


def test_fifty_concurrent_bookers_never_overbook(settings: Settings, tmp_path: Path) -> None:
    with session_scope(settings) as s:
        load_people(s, tmp_path, count=50)
        site = site_id(s)
        people = person_ids(s)
        appts.open_places(s, site, [DAY], capacity=10)
    barrier = threading.Barrier(50)
    outcomes: list[str] = []
    lock = threading.Lock()

    def book(person: int) -> None:
        barrier.wait()
        try:
            with session_scope(settings) as s:
                appts.book(s, ADMIN, person, site, DAY)
            result = "booked"
        except CapacityExceeded:
            result = "full"
        except Exception as err:  # noqa: BLE001 - any other outcome fails the test below
            result = f"error: {err!r}"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=book, args=(p,)) for p in people]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(set(outcomes)) == ["booked", "full"], outcomes
    assert outcomes.count("booked") == 10
    with session_scope(settings) as s:
        slot = s.scalar(select(IssueSlot).where(IssueSlot.site_id == site))
        assert slot is not None and slot.booked == 10
        assert s.scalar(select(func.count()).select_from(Appointment)) == 10
        assert audit.verify(s).entries > 0


def test_one_person_booked_by_many_desks_at_once_gets_one_appointment(
        settings: Settings, tmp_path: Path) -> None:
    days = [date(2023, 1, 9 + d) for d in range(5)]
    with session_scope(settings) as s:
        load_people(s, tmp_path, count=1)
        site = site_id(s)
        person = person_ids(s)[0]
        appts.open_places(s, site, days, capacity=10)
    barrier = threading.Barrier(20)
    outcomes: list[str] = []
    lock = threading.Lock()

    def book(n: int) -> None:
        barrier.wait()
        try:
            with session_scope(settings) as s:
                appts.book(s, ADMIN, person, site, days[n % len(days)])
            result = "booked"
        except Conflict:
            result = "conflict"
        except Exception as err:  # noqa: BLE001 - any other outcome fails the test below
            result = f"error: {err!r}"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=book, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("booked") == 1 and outcomes.count("conflict") == 19, outcomes
    with session_scope(settings) as s:
        assert s.scalar(select(func.sum(IssueSlot.booked))) == 1  # losers gave places back
        assert s.scalar(select(func.count()).select_from(Appointment)) == 1


def test_applying_a_plan_while_desks_book(settings: Settings, tmp_path: Path) -> None:
    """A plan applied while ten desks book into the same days: each side either succeeds
    or is refused cleanly (no deadlock, no other error), and the invariants hold."""
    with session_scope(settings) as s:
        load_people(s, tmp_path, count=30)
        audit.create(s, ADMIN, "delivery.add", StockDelivery(
            expected_on=date(2023, 1, 2), quantity=30, received_on=date(2023, 1, 2)))
        site = site_id(s)
        people = person_ids(s)
    options = PlanOptions(start=date(2023, 1, 9), deadline=date(2023, 1, 31),
                          staging_per_day=30, priority=(), default_slots=4)
    barrier = threading.Barrier(11)
    outcomes: list[str] = []
    lock = threading.Lock()

    def plan() -> None:
        barrier.wait()
        try:
            with session_scope(settings) as s:
                replan(s, ADMIN, RolloutRecords(staged=30), options, CLOCK)
            result = "planned"
        except (Conflict, CapacityExceeded):
            result = "refused"
        except Exception as err:  # noqa: BLE001 - any other outcome fails the test below
            result = f"error: {err!r}"
        with lock:
            outcomes.append(result)

    def desk(n: int) -> None:
        # Book and cancel over and over, so that desks hold capacity rows and the audit
        # head throughout the apply.
        barrier.wait()
        for _ in range(15):
            try:
                with session_scope(settings) as s:
                    booked = appts.book(s, ADMIN, people[-1 - n], site,
                                        date(2023, 1, 10 + n % 3))
                with session_scope(settings) as s:
                    again = appts.get_appointment(s, booked.id)
                    appts.transition(s, ADMIN, "cancel", [again], reason="desk test")
                result = "booked"
            except (Conflict, CapacityExceeded, TransitionRefused):
                result = "refused"
            except Exception as err:  # noqa: BLE001 - any other outcome fails the test
                result = f"error: {err!r}"
            with lock:
                outcomes.append(result)

    with session_scope(settings) as s:
        appts.open_places(s, site, [date(2023, 1, 10 + d) for d in range(3)], capacity=4)
    threads = [threading.Thread(target=plan)]
    threads += [threading.Thread(target=desk, args=(n,)) for n in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not [o for o in outcomes if o.startswith("error")], outcomes
    with session_scope(settings) as s:
        rows = s.scalars(select(Appointment)).all()
        holding = Counter((a.day) for a in rows
                          if a.status in ("booked", "confirmed", "attended", "not_issued",
                                          "no_show"))
        for slot in s.scalars(select(IssueSlot)):
            assert slot.booked == holding[slot.day] <= slot.capacity
        live = Counter(a.person_id for a in rows if a.status in ("booked", "confirmed"))
        assert all(n == 1 for n in live.values())
        audit.verify(s)


def test_lifecycle_and_places_given_back(session: Session, settings: Settings,
                                         tmp_path: Path) -> None:
    load_people(session, tmp_path, count=3)
    handset = shelf(session, settings, tmp_path, 1)[0]
    site = site_id(session)
    a, b, _ = person_ids(session)
    appts.open_places(session, site, [DAY, date(2023, 1, 11)], capacity=1)
    session.commit()
    first = appts.book(session, ADMIN, a, site, DAY)
    session.commit()
    with pytest.raises(CapacityExceeded):
        appts.book(session, ADMIN, b, site, DAY)
    session.rollback()
    with pytest.raises(Conflict):
        appts.book(session, ADMIN, a, site, date(2023, 1, 11))
    session.rollback()
    appts.transition(session, ADMIN, "confirm", [first])
    with pytest.raises(TransitionRefused, match="only with a reason"):
        appts.reschedule(session, ADMIN, first, site, date(2023, 1, 11))
    moved = appts.reschedule(session, ADMIN, first, site, date(2023, 1, 11),
                             reason="officer on a course")
    assert first.status == AppointmentStatus.RESCHEDULED.value
    assert moved.replaces_id == first.id and moved.status == AppointmentStatus.BOOKED.value
    # The place on the 10th came back, so the other person can have it.
    appts.book(session, ADMIN, b, site, DAY)
    with pytest.raises(TransitionRefused, match="needs a reason"):
        appts.transition(session, ADMIN, "cancel", [moved])
    # Attended means handed a handset: not without one in the register.
    with pytest.raises(TransitionRefused, match="no handset is issued"):
        appts.transition(session, ADMIN, "attend", [moved])
    done = hand(session, settings, handset, a, date(2023, 1, 11))
    assert done.appointment is moved and moved.status == AppointmentStatus.ATTENDED.value
    assert moved.handset_id == handset.id
    with pytest.raises(TransitionRefused):
        appts.transition(session, ADMIN, "no_show", [moved])
    session.commit()
    slots = {d: n for d, n in session.execute(select(IssueSlot.day, IssueSlot.booked))}
    assert slots == {DAY: 1, date(2023, 1, 11): 1}


def test_replan_rebooks_no_shows_and_keeps_confirmed(session: Session, settings: Settings,
                                                     tmp_path: Path) -> None:
    load_people(session, tmp_path, count=6)
    handset = shelf(session, settings, tmp_path, 1)[0]
    site = session.get(Site, site_id(session))
    assert site is not None
    appts.set_site_capacity(session, ADMIN, site, 2)
    audit.create(session, ADMIN, "delivery.add",
                 StockDelivery(expected_on=date(2023, 1, 2), quantity=6, reference="A32-1",
                               received_on=date(2023, 1, 2)))
    session.flush()
    options = PlanOptions(start=date(2023, 1, 9), deadline=date(2023, 1, 31),
                          staging_per_day=10, priority=("bcu",), default_slots=2)
    records = RolloutRecords(staged=6)
    plan, applied = replan(session, ADMIN, records, options, CLOCK)
    assert plan.met and applied.booked == 6
    saved = session.get(RolloutPlan, applied.plan_id)
    assert saved is not None and saved.planned_by_unit == {
        "CE": {"2023-01-09": 2, "2023-01-10": 2, "2023-01-11": 2}}
    days = sorted(session.scalars(select(Appointment.day)))
    assert days == [date(2023, 1, 9)] * 2 + [date(2023, 1, 10)] * 2 + [date(2023, 1, 11)] * 2
    live = list(session.scalars(select(Appointment).order_by(Appointment.day, Appointment.id)))
    hand(session, settings, handset, live[0].person_id, live[0].day)
    appts.transition(session, ADMIN, "no_show", live[1:2])
    appts.transition(session, ADMIN, "confirm", live[5:6])
    confirmed = (live[5].id, live[5].site_id, live[5].day)
    no_show_person = live[1].person_id
    session.flush()
    # A day later: one attended, one did not come, one confirmed for the 11th.
    later = PlanOptions(start=date(2023, 1, 10), deadline=date(2023, 1, 31),
                        staging_per_day=10, priority=("bcu",), default_slots=2)
    plan, applied = replan(session, ADMIN, RolloutRecords(staged=5), later, CLOCK)
    assert plan.met
    rebooked = session.scalar(select(Appointment).where(
        Appointment.person_id == no_show_person, Appointment.status == "booked"))
    assert rebooked is not None and rebooked.day >= date(2023, 1, 10)
    still = session.get(Appointment, confirmed[0])
    assert still is not None and (still.id, still.site_id, still.day) == confirmed
    assert still.status == AppointmentStatus.CONFIRMED.value
    per_day = {d: n for d, n in session.execute(select(IssueSlot.day, IssueSlot.booked))}
    assert all(n <= 2 for n in per_day.values())
    live_per_person = session.execute(
        select(Appointment.person_id, func.count()).where(
            Appointment.status.in_(["booked", "confirmed"])).group_by(Appointment.person_id)
    ).all()
    assert all(n == 1 for _, n in live_per_person) and len(live_per_person) == 5
    assert audit.verify(session).entries > 0


def test_late_stock_moves_the_plan(session: Session, tmp_path: Path) -> None:
    load_people(session, tmp_path, count=4)
    delivery = audit.create(session, ADMIN, "delivery.add",
                            StockDelivery(expected_on=date(2023, 1, 9), quantity=4))
    session.flush()
    options = PlanOptions(start=date(2023, 1, 9), deadline=date(2023, 1, 31),
                          staging_per_day=10, priority=(), default_slots=4)
    plan, _ = replan(session, ADMIN, RolloutRecords(), options, CLOCK)
    assert {a.day for a in plan.appointments} == {date(2023, 1, 10)}
    with audit.change(session, ADMIN, "delivery.expect", delivery, reason="supplier slip"):
        delivery.expected_on = date(2023, 1, 16)
    plan, applied = replan(session, ADMIN, RolloutRecords(), options, CLOCK)
    assert {a.day for a in plan.appointments} == {date(2023, 1, 17)} and applied.moved == 4
    booked = session.scalars(select(Appointment.day).where(Appointment.status == "booked"))
    assert set(booked) == {date(2023, 1, 17)}


def test_alternative_model_waits_for_its_own_stock(session: Session, tmp_path: Path) -> None:
    load_people(session, tmp_path, count=3)
    person = session.scalar(select(Person).where(Person.number == "100001"))
    assert person is not None
    with audit.change(session, ADMIN, "person.update", person):
        person.adjustments = "Large-screen handset (occupational health referral)"
    audit.create(session, ADMIN, "delivery.add", StockDelivery(
        expected_on=date(2023, 1, 2), quantity=3, received_on=date(2023, 1, 2)))
    audit.create(session, ADMIN, "delivery.add", StockDelivery(
        expected_on=date(2023, 1, 16), quantity=1, model="large-screen"))
    session.flush()
    options = PlanOptions(start=date(2023, 1, 9), deadline=date(2023, 1, 31),
                          staging_per_day=10, priority=(), default_slots=5,
                          alternative_models=(("large-screen", "large-screen"),))
    plan, _ = replan(session, ADMIN, RolloutRecords(), options, CLOCK)
    days = {a.person_id: a.day for a in plan.appointments}
    assert days.pop(person.id) == date(2023, 1, 17)  # staged on the 16th, issued next day
    assert set(days.values()) == {date(2023, 1, 10)}
