"""Issuing capacity and appointments: open places, book, confirm, attend, no-show,
reschedule, cancel.

Booking never overbooks a site-day, however many bookers race: the place is taken with one
conditional ``UPDATE rollout_issue_slot SET booked = booked + 1 WHERE ... AND booked <
capacity`` whose row count says whether a place was left. PostgreSQL re-checks the
``WHERE`` on the latest row version after waiting for a concurrent writer; SQLite lets one
writer in at a time. A check constraint on the row backs this up.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from mobilise.core import audit
from mobilise.core.actor import Actor
from mobilise.core.errors import CapacityExceeded, Conflict, InvalidInput, NotFound
from mobilise.core.transitions import run_transition
from mobilise.people.models import Person, Site
from mobilise.rollout.models import LIVE, Appointment, AppointmentStatus, IssueSlot, SiteCapacity
from mobilise.rollout.transitions import APPOINTMENT


def set_site_capacity(session: Session, actor: Actor, site: Site, slots_per_day: int) -> None:
    if slots_per_day < 0:
        raise InvalidInput("slots per day cannot be negative")
    if not site.issuing:
        raise InvalidInput(f"site {site.code} is not an issuing site")
    row = session.scalar(select(SiteCapacity).where(SiteCapacity.site_id == site.id))
    if row is None:
        audit.create(session, actor, "site_capacity.set",
                     SiteCapacity(site_id=site.id, slots_per_day=slots_per_day))
    else:
        with audit.change(session, actor, "site_capacity.set", row):
            row.slots_per_day = slots_per_day


def open_places(session: Session, site_id: int, days: Iterable[date], capacity: int) -> int:
    """Create (or resize) the capacity rows for ``days``; never below what is booked."""
    wanted = sorted(set(days))
    if not wanted:
        return 0
    existing = {s.day: s for s in session.scalars(
        select(IssueSlot).where(IssueSlot.site_id == site_id, IssueSlot.day.in_(wanted)))}
    created = 0
    for day in wanted:
        row = existing.get(day)
        if row is None:
            session.add(IssueSlot(site_id=site_id, day=day, capacity=capacity, booked=0))
            created += 1
        elif row.capacity != capacity:
            row.capacity = max(capacity, row.booked)
    session.flush()
    return created


def take_place(session: Session, site_id: int, day: date, count: int = 1) -> None:
    """Take ``count`` places at a site on a day, all or none, or raise ``CapacityExceeded``."""
    result = session.execute(
        update(IssueSlot)
        .where(IssueSlot.site_id == site_id, IssueSlot.day == day,
               IssueSlot.booked + count <= IssueSlot.capacity)
        .values(booked=IssueSlot.booked + count)
        .execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)
    if result.rowcount == 1:
        return
    exists = session.scalar(select(IssueSlot.id).where(IssueSlot.site_id == site_id,
                                                       IssueSlot.day == day))
    site = session.get(Site, site_id)
    name = site.code if site else f"id {site_id}"
    if exists is None:
        raise CapacityExceeded(f"no issuing places are open at site {name} on {day}")
    raise CapacityExceeded(f"site {name} has fewer than {count} places left on {day}")


def live_appointment(session: Session, person_id: int) -> Appointment | None:
    return session.scalar(select(Appointment).where(Appointment.person_id == person_id,
                                                    Appointment.status.in_(LIVE)))


def book(
    session: Session,
    actor: Actor,
    person_id: int,
    site_id: int,
    day: date,
    *,
    wave_id: int | None = None,
    replaces_id: int | None = None,
    note: str | None = None,
) -> Appointment:
    """Book a person into a site-day; refuses a full day and a second live appointment."""
    # The place is taken first so that on SQLite the transaction starts as a writer and
    # waits for its turn, instead of failing to upgrade a read snapshot later.
    take_place(session, site_id, day)
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound(f"no person with id {person_id}")
    current = live_appointment(session, person_id)
    if current is not None:
        raise Conflict(f"person {person.number} already has appointment {current.id} on "
                       f"{current.day}: reschedule it instead")
    appointment = Appointment(person_id=person_id, site_id=site_id, day=day,
                              status=AppointmentStatus.BOOKED.value, wave_id=wave_id,
                              replaces_id=replaces_id, note=note)
    number = person.number
    audit.create(session, actor, "appointment.book", appointment)
    try:
        session.flush()
    except IntegrityError:
        # The live-appointment index: someone booked this person a moment ago. The
        # caller's unit of work rolls back, place included.
        raise Conflict(f"person {number} already has a live appointment") from None
    return appointment


def get_appointment(session: Session, appointment_id: int) -> Appointment:
    found = session.get(Appointment, appointment_id)
    if found is None:
        raise NotFound(f"no appointment {appointment_id}")
    return found


def flush_changes(session: Session) -> None:
    """Flush, turning a lost race on an appointment's version into a Conflict."""
    try:
        session.flush()
    except StaleDataError:
        raise Conflict("an appointment was changed by someone else meanwhile; nothing "
                       "changed: reload and try again") from None


def transition(session: Session, actor: Actor, name: str, appointments: Sequence[Appointment],
               *, reason: str | None = None) -> list[Appointment]:
    """confirm, attend, no_show or cancel, all or nothing."""
    if name == "reschedule":
        raise InvalidInput("use reschedule() to move an appointment to a new place")
    done = run_transition(session, actor, APPOINTMENT, name, appointments, reason=reason)
    flush_changes(session)
    return done


def reschedule(session: Session, actor: Actor, appointment: Appointment, site_id: int,
               day: date, *, reason: str | None = None) -> Appointment:
    """Move an appointment: the old one is marked rescheduled and gives its place back,
    a new one is booked in the new place (or nothing changes if that place is full)."""
    if (appointment.site_id, appointment.day) == (site_id, day):
        raise InvalidInput("the appointment is already at that site on that day")
    run_transition(session, actor, APPOINTMENT, "reschedule", [appointment], reason=reason)
    flush_changes(session)
    return book(session, actor, appointment.person_id, site_id, day,
                wave_id=appointment.wave_id, replaces_id=appointment.id, note=reason)
