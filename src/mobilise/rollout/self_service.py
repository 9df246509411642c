"""My phone: what a signed-in person may see and do about their own hand-over.

Thin over the rollout and the register: a booking goes through ``appointments.book``
(the site-day's capacity, one live appointment per person), a move through
``reschedule``, a cancellation through the lifecycle, and a loss through the handset
lifecycle exactly as the desk reports one (the wipe and the SIM bar are queued in the same
commit). What is added here are the rules a person booking for themselves must keep, and
the guarantee that every call is about the caller's own records.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilise.core.actor import Actor
from mobilise.core.clock import Clock
from mobilise.core.errors import Conflict, InvalidInput, NotFound
from mobilise.core.settings import Settings
from mobilise.devices import handsets as handset_ops
from mobilise.devices.models import Handset, HandsetStatus, LicenceSeat
from mobilise.devices.policy import pending_handsets
from mobilise.people.adjustments import open_requests, request_row
from mobilise.people.models import Person, PersonStatus, Site
from mobilise.rollout import appointments
from mobilise.rollout.calendar import is_working_day
from mobilise.rollout.models import Appointment, IssueSlot

# How far ahead a person may book, and the notice a booking needs: the desk stages a
# handset for each appointment the working day before.
BOOKING_HORIZON_DAYS = 42
MIN_NOTICE_DAYS = 1

WHAT_TO_BRING = (
    "Your warrant card or staff pass.",
    "Your old BlackBerry and its charger, if you have one.",
    "About 20 minutes: the desk enrols the phone with you and you accept the "
    "acceptable-use policy.",
)

MY_BOOKING = "booked by the person in self-service"


def the_person(session: Session, actor: Actor) -> Person:
    """The person the signed-in login is: everything in self-service is about them."""
    person = session.get(Person, actor.person_id) if actor.person_id is not None else None
    if person is None:
        raise NotFound("your login is linked to no person in the register")
    return person


def _check_bookable(session: Session, clock: Clock, person: Person, day: date) -> None:
    if person.status != PersonStatus.ACTIVE.value or not person.eligible:
        raise InvalidInput("you are not on the list for a work smartphone: ask the service "
                           "desk" + (f" ({person.eligibility_reason})"
                                     if person.eligibility_reason else ""))
    if day < clock.today() + timedelta(days=MIN_NOTICE_DAYS):
        raise InvalidInput("book at least one day ahead: the desk prepares your handset "
                           "the day before")
    if day > clock.today() + timedelta(days=BOOKING_HORIZON_DAYS):
        raise InvalidInput(f"book at most {BOOKING_HORIZON_DAYS} days ahead")
    if not is_working_day(day):
        raise InvalidInput(f"{day} is not a working day")
    if session.scalar(select(Handset.id).where(
            Handset.holder_id == person.id,
            Handset.status == HandsetStatus.ISSUED.value).limit(1)) is not None:
        raise InvalidInput("you already hold a work smartphone")


def _site(session: Session, code: str) -> Site:
    site = session.scalar(select(Site).where(Site.code == code, Site.issuing.is_(True)))
    if site is None:
        raise InvalidInput(f"{code!r} is not an issuing site")
    return site


def book_mine(session: Session, actor: Actor, clock: Clock, site_code: str,
              day: date) -> Appointment:
    person = the_person(session, actor)
    site = _site(session, site_code)
    _check_bookable(session, clock, person, day)
    return appointments.book(session, actor, person.id, site.id, day, note=MY_BOOKING)


def my_appointment(session: Session, actor: Actor) -> Appointment:
    found = appointments.live_appointment(session, the_person(session, actor).id)
    if found is None:
        raise NotFound("you have no appointment booked")
    return found


def _live_for_change(session: Session, actor: Actor, verb: str) -> Appointment:
    # A change to an appointment that is no longer live (moved or cancelled a moment ago,
    # perhaps by this person's other tab) is a conflict with its state, not a lookup miss.
    found = appointments.live_appointment(session, the_person(session, actor).id)
    if found is None:
        raise Conflict(f"you have no booked appointment to {verb}")
    return found


def move_mine(session: Session, actor: Actor, clock: Clock, site_code: str,
              day: date) -> Appointment:
    current = _live_for_change(session, actor, "move")
    site = _site(session, site_code)
    if (current.site_id, current.day) == (site.id, day):
        raise Conflict(f"your appointment is already at {site.code} on {day}")
    _check_bookable(session, clock, current.person, day)
    return appointments.reschedule(session, actor, current, site.id, day,
                                   reason="moved by the person in self-service")


def cancel_mine(session: Session, actor: Actor, reason: str) -> Appointment:
    current = _live_for_change(session, actor, "cancel")
    if not reason.strip():
        raise InvalidInput("say why you are cancelling (the desk will rebook you)")
    appointments.transition(session, actor, "cancel", [current],
                            reason=f"cancelled by the person: {reason.strip()[:500]}")
    return current


def open_days(session: Session, clock: Clock, *, limit: int = 60) -> list[dict[str, Any]]:
    """Site-days with a place left that a person may book, soonest first."""
    first = clock.today() + timedelta(days=MIN_NOTICE_DAYS)
    rows = session.execute(
        select(Site.code, Site.name, Site.accessible, IssueSlot.day,
               IssueSlot.capacity - IssueSlot.booked)
        .join(Site, IssueSlot.site_id == Site.id)
        .where(Site.issuing.is_(True), IssueSlot.day >= first,
               IssueSlot.day <= clock.today() + timedelta(days=BOOKING_HORIZON_DAYS),
               IssueSlot.booked < IssueSlot.capacity)
        .order_by(IssueSlot.day, Site.code).limit(limit))
    return [{"site": c, "site_name": n, "accessible": a, "day": d, "free": free}
            for c, n, a, d, free in rows if is_working_day(d)]


def appointment_row(a: Appointment) -> dict[str, Any]:
    return {"id": a.id, "day": a.day, "site": a.site.code, "site_name": a.site.name,
            "accessible": a.site.accessible, "status": a.status}


def handset_row(session: Session, h: Handset) -> dict[str, Any]:
    seat = session.scalar(select(LicenceSeat).where(LicenceSeat.handset_id == h.id,
                                                    LicenceSeat.released_at.is_(None)))
    return {"id": h.id, "imei": h.imei,
            "model": f"{h.model.manufacturer} {h.model.name}" if h.model else "",
            "number": h.sim.msisdn if h.sim is not None else None, "status": h.status,
            "issued_at": h.issued_at,
            "licence": f"{seat.pool.product} ({seat.pool.code})" if seat else None}


def my_phone(session: Session, actor: Actor, clock: Clock) -> dict[str, Any]:
    """Everything the My phone page shows, in one place for the page and the API."""
    person = the_person(session, actor)
    live = appointments.live_appointment(session, person.id)
    held = list(session.scalars(select(Handset).where(
        Handset.holder_id == person.id,
        Handset.status.in_([HandsetStatus.ISSUED.value, HandsetStatus.LOST.value,
                            HandsetStatus.STOLEN.value])).order_by(Handset.id)))
    return {
        "person": {"number": person.number, "name": person.display_name,
                   "email": person.email},
        "appointment": appointment_row(live) if live else None,
        "what_to_bring": list(WHAT_TO_BRING),
        "handsets": [handset_row(session, h) for h in held],
        "policy_pending": [h.imei for h in pending_handsets(session, clock, person.id)],
        "adjustments": person.adjustments,
        "adjustment_requests": [request_row(r) for r in open_requests(session, person.id)],
    }


def my_handset(session: Session, person: Person, imei: str) -> Handset:
    """A handset issued to ``person``; any other is "not found", whoever holds it."""
    found = session.scalar(select(Handset).where(
        Handset.imei == imei.strip(), Handset.holder_id == person.id,
        Handset.status == HandsetStatus.ISSUED.value))
    if found is None:
        raise NotFound(f"you hold no handset {imei.strip()[:20]}")
    return found


LOSS = {"lost": "lose", "stolen": "steal"}


def report_loss(session: Session, actor: Actor, settings: Settings, clock: Clock,
                imei: str, kind: str, reference: str) -> Handset:
    """Report one's own handset lost or stolen: the same transition as the desk's, so the
    wipe and the SIM bar are queued in this commit, audited with the person as actor."""
    if kind not in LOSS:
        raise InvalidInput("report it 'lost' or 'stolen'")
    if not reference.strip():
        raise InvalidInput("give the police reference (for a loss, the lost-property "
                           "reference) so that the wipe can be traced")
    person = the_person(session, actor)
    handset = session.scalar(select(Handset).where(Handset.imei == imei.strip(),
                                                   Handset.holder_id == person.id))
    if handset is None:
        raise NotFound(f"you hold no handset {imei.strip()[:20]}")
    if handset.status != HandsetStatus.ISSUED.value:
        raise Conflict(f"handset {handset.imei} is already {handset.status}")
    handset_ops.move_handsets(session, actor, settings, clock, LOSS[kind], [handset],
                              reason=f"reported {kind} by {person.number} in self-service",
                              police_reference=reference.strip()[:60])
    return handset
