"""Messages about appointments, queued in the outbox: invitations (with a calendar
attachment), reminders, no-show notices and hand-over confirmations.

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
from mobilise.rollout.ics import appointment_ics
from mobilise.rollout.models import LIVE, Appointment, AppointmentStatus


class Notice(StrEnum):
    INVITATION = "invitation"
    REMINDER = "reminder"
    NO_SHOW = "no_show"
    HANDOVER = "handover"


def _key(notice: Notice, appointment_id: int) -> str:
    return f"{notice.value}:appointment:{appointment_id}"


def appointment_context(a: Appointment) -> dict[str, Any]:
    return {
        "person": {"first_name": a.person.first_name, "last_name": a.person.last_name,
                   "number": a.person.number, "email": a.person.email},
        "appointment": {"id": a.id, "day": a.day.strftime("%A %-d %B %Y"),
                        "site_name": a.site.name, "site_code": a.site.code,
                        "accessible": a.site.accessible,
                        "adjustments": a.person.adjustments or ""},
        "handset": None,
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
                                       joinedload(Appointment.site)).order_by(Appointment.id)
    today = clock.today()
    if notice is Notice.INVITATION:
        stmt = stmt.where(Appointment.status.in_(LIVE), Appointment.day >= today)
    elif notice is Notice.REMINDER:
        stmt = stmt.where(Appointment.status.in_(LIVE), Appointment.day >= today,
                          Appointment.day <= today + timedelta(days=days_ahead))
    elif notice is Notice.NO_SHOW:
        stmt = stmt.where(Appointment.status == AppointmentStatus.NO_SHOW.value)
    else:
        stmt = stmt.where(Appointment.status == AppointmentStatus.ATTENDED.value)
    return list(session.scalars(stmt).unique())


def queue_notices(session: Session, settings: Settings, notice: Notice, clock: Clock, *,
                  days_ahead: int = 2, handsets: dict[int, dict[str, str]] | None = None) -> int:
    """Queue ``notice`` for every appointment that is due one and has none yet.

    ``handsets`` (person id → model and IMEI) fills the hand-over confirmation once the
    handset register provides it."""
    done = existing_keys(session, f"{notice.value}:appointment:")
    queued = 0
    for a in _due(session, notice, clock, days_ahead):
        key = _key(notice, a.id)
        if key in done:
            continue
        context = appointment_context(a)
        if handsets and a.person_id in handsets:
            context["handset"] = handsets[a.person_id]
        attachment = None
        if notice is Notice.INVITATION:
            attachment = Attachment("appointment.ics", appointment_calendar(a, settings, clock))
        _, new = queue(session, key=key, template=notice.value, recipient=a.person.email,
                       context=context, settings=settings, person_id=a.person_id,
                       attachment=attachment, clock=clock)
        queued += int(new)
    session.flush()
    return queued
