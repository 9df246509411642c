"""Demo step: plan the handset rollout from November 2022 to the 31 March 2023 deadline,
book it, run the first ten weeks (most people come, some do not), then re-plan as of
20 January 2023 so that the no-shows are rebooked, and queue the messages."""

from __future__ import annotations

import math
import random
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import select

from mobilise.comms import templates
from mobilise.core.actor import Actor
from mobilise.core.clock import FixedClock
from mobilise.core.db import session_scope
from mobilise.core.settings import Settings
from mobilise.core.transitions import run_transition
from mobilise.people.models import Person, PersonStatus, Site
from mobilise.rollout import appointments, reports, stock
from mobilise.rollout.models import Appointment, AppointmentStatus
from mobilise.rollout.notices import Notice, queue_notices
from mobilise.rollout.planning import PlanOptions, RolloutRecords, replan
from mobilise.rollout.transitions import APPOINTMENT

ACTOR = Actor("demo")
START = date(2022, 11, 7)
AS_OF = date(2023, 1, 20)
DEADLINE = date(2023, 3, 31)
# Share of the handsets in each delivery, and when it was due (PCD 1322: 29,737 in all).
DELIVERIES = [(date(2022, 11, 1), 0.35), (date(2022, 12, 1), 0.30), (date(2023, 1, 3), 0.20),
              (date(2023, 2, 13), 0.15)]


def rollout_step(settings: Settings, out_dir: Path, people: int, seed: int) -> str:
    rng = random.Random(seed)
    clock = FixedClock(datetime(2022, 11, 4, 9, tzinfo=UTC))
    with session_scope(settings) as s:
        eligible = len(s.scalars(select(Person.id).where(
            Person.status == PersonStatus.ACTIVE.value, Person.eligible.is_(True))).all())
        templates.ensure_defaults(s, ACTOR, clock)
        sites = s.scalars(select(Site).where(Site.issuing.is_(True))).all()
        # Enough capacity to finish in about twelve weeks if everyone came.
        slots = max(2, math.ceil(eligible / (len(sites) * 60)))
        for site in sites:
            appointments.set_site_capacity(s, ACTOR, site, slots)
        for due, share in DELIVERIES:
            d = stock.add_delivery(s, ACTOR, due, math.ceil(eligible * share),
                                   reference=f"A32-{due:%Y%m}")
            if due <= AS_OF:
                stock.receive(s, ACTOR, d, due)
        # Alternative models for reasonable adjustments come in small, later batches.
        for model in settings.rollout_alternative_models.values():
            d = stock.add_delivery(s, ACTOR, date(2022, 12, 1), max(5, eligible // 100),
                                   reference=f"{model}-2212", model=model)
            stock.receive(s, ACTOR, d, d.expected_on)
    options = PlanOptions.from_settings(settings, START, deadline=DEADLINE,
                                        staging_per_day=max(20, eligible // 40))
    # The demo's register holds the 10,000 handsets issued before the rollout (see
    # demo/devices.py): counting settings.rollout_managed_before as well would count them twice.
    records = RolloutRecords(managed_before=0)
    with session_scope(settings) as s:
        first, applied = replan(s, ACTOR, records, options, clock)
        queue_notices(s, settings, Notice.INVITATION, clock)
    attended, missed = _run_until(settings, rng, AS_OF)
    later = FixedClock(datetime(2023, 1, 20, 17, tzinfo=UTC))
    with session_scope(settings) as s:
        again, reapplied = replan(
            s, ACTOR, RolloutRecords(staged=max(20, eligible // 40), managed_before=0),
            PlanOptions.from_settings(settings, date(2023, 1, 23), deadline=DEADLINE,
                                      staging_per_day=max(20, eligible // 40)), later)
        queued = sum(queue_notices(s, settings, n, later)
                     for n in (Notice.NO_SHOW, Notice.HANDOVER, Notice.INVITATION))
        fc = reports.forecast(s, records, settings, later)
    return (f"Rollout: planned {applied.booked} appointments ({'meets' if first.met else 'misses'}"
            f" {DEADLINE}); by {AS_OF}: {attended} handed over, {missed} no-shows; re-plan "
            f"booked {reapplied.booked}, moved {reapplied.moved}, plan ends {again.last_day}; "
            f"forecast finish {fc.finish or 'not in sight'}; {queued} messages queued "
            f"(see /rollout?as_of={AS_OF})")


def _run_until(settings: Settings, rng: random.Random, as_of: date) -> tuple[int, int]:
    """Every appointment before ``as_of`` gets its outcome: most attend, a few do not."""
    with session_scope(settings) as s:
        due = s.scalars(select(Appointment).where(
            Appointment.status == AppointmentStatus.BOOKED.value, Appointment.day < as_of)
            .order_by(Appointment.id)).all()
        came: list[Appointment] = []
        missed: list[Appointment] = []
        for a in due:
            (missed if rng.random() < 0.06 else came).append(a)
        if came:
            run_transition(s, ACTOR, APPOINTMENT, "attend", came)
        if missed:
            run_transition(s, ACTOR, APPOINTMENT, "no_show", missed, reason="did not attend")
    return len(came), len(missed)
