"""Messages about appointments, queued in the outbox: invitations (with a calendar
attachment), reminders, no-show notices and hand-over confirmations.

An invitation or a reminder never goes to someone who already holds an issued handset
(the register, not the appointment, says who has one); the hand-over confirmation names
the handset recorded on the attended appointment: model, IMEI and, with a SIM fitted, the
phone number.

Each message's idempotency key names its appointment, so queueing again after a crash or
on the next day's run never queues a second copy; a rescheduled appointment is a new
appointment and gets its own invitation.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, object_session

from mobilise.comms.outbox import Attachment, existing_keys, queue
from mobilise.core.clock import Clock
from mobilise.core.settings import Settings
from mobilise.devices.models import Handset, HandsetStatus
from mobilise.rollout.ics import appointment_ics
from mobilise.rollout.models import LIVE, Appointment, AppointmentStatus


class Notice(StrEnum):
    INVITATION = "invitation"
    REMINDER = "reminder"
    NO_SHOW = "no_show"
    HANDOVER = "handover"


def _key(notice: Notice, appointment_id: int) -> str:
    return f"{notice.value}:appointment:{appointment_id}"


def handset_context(h: Handset | None) -> dict[str, Any] | None:
    if h is None:
        return None
    model = h.model
    return {"imei": h.imei, "model": f"{model.manufacturer} {model.name}" if model else "",
            "model_code": model.code if model else "",
            "number": h.sim.msisdn if h.sim is not None and h.sim.msisdn else None}


def appointment_context(a: Appointment) -> dict[str, Any]:
    return {
        "person": {"first_name": a.person.first_name, "last_name": a.person.last_name,
                   "number": a.person.number, "email": a.person.email},
        "appointment": {"id": a.id, "day": a.day.strftime("%A %-d %B %Y"),
                        "site_name": a.site.name, "site_code": a.site.code,
                        "accessible": a.site.accessible,
                        "adjustments": a.person.adjustments or ""},
        "handset": handset_context(a.handset),
    }


def _chain(a: Appointment) -> tuple[int, int]:
    """The first appointment this one replaces (through any number of moves), and how
    many moves there were."""
    session = object_session(a)
    root, moves = a, 0
    while root.replaces_id is not None and session is not None:
        previous = session.get(Appointment, root.replaces_id)
        if previous is None:
            break
        root, moves = previous, moves + 1
    return root.id, moves


def appointment_calendar(a: Appointment, settings: Settings, clock: Clock,
                         cancel: bool = False) -> str:
    root, moves = _chain(a)
    return appointment_ics(
        uid=f"appointment-{root}@{settings.email_domain}", day=a.day, sequence=moves,
        summary="Smartphone hand-over", location=f"{a.site.name} ({a.site.code})",
        description="Collect your new work smartphone. Bring your warrant card or staff "
        "pass.", organiser=settings.smtp_sender, attendee=a.person.email, clock=clock,
        cancel=cancel)


def _due(session: Session, notice: Notice, clock: Clock, days_ahead: int) -> list[Appointment]:
    stmt = select(Appointment).options(joinedload(Appointment.person),
                                       joinedload(Appointment.site),
                                       joinedload(Appointment.handset)).order_by(Appointment.id)
    today = clock.today()
    # Someone handed a phone already (at another desk, before the appointment) is not
    # invited or reminded to come for one.
    holds_one = select(Handset.id).where(Handset.holder_id == Appointment.person_id,
                                         Handset.status == HandsetStatus.ISSUED.value).exists()
    if notice is Notice.INVITATION:
        stmt = stmt.where(Appointment.status.in_(LIVE), Appointment.day >= today, ~holds_one)
    elif notice is Notice.REMINDER:
        stmt = stmt.where(Appointment.status.in_(LIVE), Appointment.day >= today,
                          Appointment.day <= today + timedelta(days=days_ahead), ~holds_one)
    elif notice is Notice.NO_SHOW:
        stmt = stmt.where(Appointment.status == AppointmentStatus.NO_SHOW.value)
    else:
        stmt = stmt.where(Appointment.status == AppointmentStatus.ATTENDED.value)
    return list(session.scalars(stmt).unique())


def queue_notices(session: Session, settings: Settings, notice: Notice, clock: Clock, *,
                  days_ahead: int = 2) -> int:
    """Queue ``notice`` for every appointment that is due one and has none yet."""
    done = existing_keys(session, f"{notice.value}:appointment:")
    queued = 0
    for a in _due(session, notice, clock, days_ahead):
        key = _key(notice, a.id)
        if key in done:
            continue
        context = appointment_context(a)
        attachment = None
        if notice is Notice.INVITATION:
            attachment = Attachment("appointment.ics", appointment_calendar(a, settings, clock))
        _, new = queue(session, key=key, template=notice.value, recipient=a.person.email,
                       context=context, settings=settings, person_id=a.person_id,
                       attachment=attachment, clock=clock)
        queued += int(new)
    session.flush()
    return queued
