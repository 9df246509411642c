"""The appointment lifecycle: booked → confirmed → attended / not_issued / no_show /
rescheduled / cancelled. Leaving booked or confirmed for rescheduled or cancelled gives the
place back.

*Attended* means a handset was handed over: the guard asks the handset register, and the
handset is recorded on the appointment. A person who came but left without one is
*attended, not issued* (``not_issued``), with the reason; the next re-plan rebooks them.
The desk's hand-over (``rollout.handover.hand_over``) attends the appointment itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, tuple_, update
from sqlalchemy.orm import Session

from mobilise.core.db import is_postgres
from mobilise.core.transitions import Context, Lifecycle, Transition
from mobilise.devices.models import Handset, HandsetStatus
from mobilise.rollout.models import AppointmentStatus, IssueSlot

S = AppointmentStatus
LIVE = frozenset({S.BOOKED.value, S.CONFIRMED.value})


def release_place(ctx: Context, appointment: Any) -> None:
    # Effects run inside the audited change: an autoflush here would flush the new state
    # before its audit record exists.
    with ctx.session.no_autoflush:
        ctx.session.execute(
            update(IssueSlot)
            .where(IssueSlot.site_id == appointment.site_id, IssueSlot.day == appointment.day,
                   IssueSlot.booked > 0)
            .values(booked=IssueSlot.booked - 1)
            .execution_options(synchronize_session=False)
        )


def lock_places(session: Session, appointments: Sequence[Any]) -> None:
    """Lock the capacity rows the appointments hold before the appointments themselves:
    a booking and a plan lock a place first and the appointment after, and a cancel or
    reschedule must take them in the same order (or two could wait on each other)."""
    if not is_postgres(session):
        return  # one writer: the write lock taken for the appointments covers it
    places = sorted({(a.site_id, a.day) for a in appointments})
    session.execute(select(IssueSlot.id).where(
        tuple_(IssueSlot.site_id, IssueSlot.day).in_(places))
        .order_by(IssueSlot.id).with_for_update())


def confirmed_needs_reason(ctx: Context, appointment: Any) -> str | None:
    # A confirmed appointment is a promise to a person: it never moves silently.
    if appointment.status == S.CONFIRMED.value and not (ctx.reason and ctx.reason.strip()):
        return "a confirmed appointment moves only with a reason"
    return None


def handset_handed_over(ctx: Context, appointment: Any) -> Handset | None:
    """The handset this appointment's person holds, issued in the register: the one the
    caller names (the desk's hand-over), else their latest issued one."""
    named: Handset | None = ctx.params.get("handset")
    with ctx.session.no_autoflush:
        if named is not None:
            held = (named.holder_id == appointment.person_id
                    and named.status == HandsetStatus.ISSUED.value)
            return named if held else None
        found: Handset | None = ctx.session.scalars(
            select(Handset).where(Handset.holder_id == appointment.person_id,
                                  Handset.status == HandsetStatus.ISSUED.value)
            .order_by(Handset.issued_at.desc(), Handset.id.desc()).limit(1)).first()
        return found


def needs_hand_over(ctx: Context, appointment: Any) -> str | None:
    if handset_handed_over(ctx, appointment) is not None:
        return None
    return ("no handset is issued to this person in the register: hand one over at the desk "
            "(mobilise devices issue, or /handover), or record 'attended, not issued' with "
            "the reason")


def record_handset(ctx: Context, appointment: Any) -> None:
    handset = handset_handed_over(ctx, appointment)
    assert handset is not None, "the hand-over guard ran before this effect"
    appointment.handset_id = handset.id


def release_place_if_early(ctx: Context, appointment: Any) -> None:
    """Handed over before the appointment's day (at the desk, early): the person will not
    come on that day, so its place goes back to others."""
    today = ctx.params.get("today")
    if today is not None and appointment.day > today:
        release_place(ctx, appointment)


APPOINTMENT: Lifecycle[Any] = Lifecycle(
    entity="appointment",
    state_attr="status",
    lock_first=lock_places,
    transitions=[
        Transition("confirm", frozenset({S.BOOKED.value}), S.CONFIRMED.value,
                   label="Confirm"),
        Transition("attend", LIVE, S.ATTENDED.value, guards=(needs_hand_over,),
                   effects=(record_handset, release_place_if_early),
                   label="Attended: handset handed over"),
        Transition("attend_not_issued", LIVE, S.NOT_ISSUED.value, needs_reason=True,
                   label="Attended, not issued"),
        Transition("no_show", LIVE, S.NO_SHOW.value, label="Did not attend"),
        Transition("reschedule", LIVE, S.RESCHEDULED.value, guards=(confirmed_needs_reason,),
                   effects=(release_place,), label="Reschedule"),
        Transition("cancel", LIVE, S.CANCELLED.value, needs_reason=True,
                   effects=(release_place,), label="Cancel"),
    ],
)
