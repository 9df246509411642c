"""The hand-over at the desk: the handset is issued in the register and the person's open
appointment is attended, with that handset recorded on it, in one transaction. Every way
in (``mobilise devices issue``, ``POST /api/v1/handsets/{imei}/issue``, the
``/handover`` page) comes through here, so the register and the rollout cannot disagree
about who has been handed a phone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilise.core.actor import Actor
from mobilise.core.clock import Clock
from mobilise.core.settings import Settings
from mobilise.core.transitions import run_transition
from mobilise.devices import handsets
from mobilise.devices.models import AccessoryKit, Handset, Sim
from mobilise.people.models import Person
from mobilise.rollout.appointments import flush_changes
from mobilise.rollout.models import LIVE, Appointment
from mobilise.rollout.transitions import APPOINTMENT


@dataclass(frozen=True)
class HandOver:
    handset: Handset
    person: Person
    appointment: Appointment | None  # the appointment it closed, if the person had one


def hand_over(
    session: Session, actor: Actor, settings: Settings, clock: Clock, handset: Handset,
    person: Person, *, method: str, policy_version: str | None = None, sim: Sim | None = None,
    kit: AccessoryKit | None = None, accepted_at: datetime | None = None,
) -> HandOver:
    """Issue ``handset`` to ``person`` (every guard of the register applies) and attend
    their open appointment, recording the handset on it."""
    handsets.issue_handset(session, actor, settings, clock, handset, person, method=method,
                           policy_version=policy_version, sim=sim, kit=kit,
                           accepted_at=accepted_at)
    closed = close_appointments(session, actor, [(handset, person)], today=clock.today())
    return HandOver(handset, person, closed[0] if closed else None)


def hand_over_many(
    session: Session, actor: Actor, settings: Settings, clock: Clock,
    pairs: Sequence[tuple[Handset, Person]], *, method: str,
    policy_version: str | None = None, kit: AccessoryKit | None = None,
    accepted_at: datetime | None = None,
) -> list[Appointment]:
    """Many hand-overs at once (``handsets.issue_many``, all or nothing), each closing
    its person's open appointment; returns the appointments closed."""
    handsets.issue_many(session, actor, settings, clock, pairs, method=method,
                        policy_version=policy_version, kit=kit, accepted_at=accepted_at)
    return close_appointments(session, actor, pairs, today=clock.today())


def close_appointments(session: Session, actor: Actor,
                       pairs: Sequence[tuple[Handset, Person]], *,
                       today: date | None = None) -> list[Appointment]:
    """Attend the open (booked or confirmed) appointment of each person just handed a
    handset, recording the handset on it. One booked for a later day than ``today`` gives
    its place back: the person has their phone and will not come."""
    handset_of = {p.id: h for h, p in pairs}
    if not handset_of:
        return []
    session.flush()
    open_ = list(session.scalars(select(Appointment).where(
        Appointment.person_id.in_(list(handset_of)), Appointment.status.in_(LIVE))
        .order_by(Appointment.id)))
    for a in open_:
        # One run per appointment: each names its own handset.
        handset = handset_of[a.person_id]
        run_transition(session, actor, APPOINTMENT, "attend", [a], handset=handset,
                       today=today, reason=f"handset {handset.imei} handed over")
    flush_changes(session)
    return open_
