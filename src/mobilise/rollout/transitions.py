"""The appointment lifecycle: booked → confirmed → attended / no_show / rescheduled /
cancelled. Leaving booked or confirmed for rescheduled or cancelled gives the place back."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from mobilise.core.transitions import Context, Lifecycle, Transition
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


def confirmed_needs_reason(ctx: Context, appointment: Any) -> str | None:
    # A confirmed appointment is a promise to a person: it never moves silently.
    if appointment.status == S.CONFIRMED.value and not (ctx.reason and ctx.reason.strip()):
        return "a confirmed appointment moves only with a reason"
    return None


APPOINTMENT: Lifecycle[Any] = Lifecycle(
    entity="appointment",
    state_attr="status",
    transitions=[
        Transition("confirm", frozenset({S.BOOKED.value}), S.CONFIRMED.value,
                   label="Confirm"),
        Transition("attend", LIVE, S.ATTENDED.value, label="Attended: handset handed over"),
        Transition("no_show", LIVE, S.NO_SHOW.value, label="Did not attend"),
        Transition("reschedule", LIVE, S.RESCHEDULED.value, guards=(confirmed_needs_reason,),
                   effects=(release_place,), label="Reschedule"),
        Transition("cancel", LIVE, S.CANCELLED.value, needs_reason=True,
                   effects=(release_place,), label="Cancel"),
    ],
)
