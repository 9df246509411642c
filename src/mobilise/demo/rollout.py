"""Demo step: plan the handset rollout from November 2022 to the 31 March 2023 deadline,
book it, run the first ten weeks (most people come and are handed a handset at the desk,
some do not come), then re-plan as of
20 January 2023 so that the no-shows are rebooked, and queue the messages."""

from __future__ import annotations

import math
import random
from datetime import UTC, date, datetime, time
from itertools import groupby
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from mobilise.comms import templates
from mobilise.core.actor import Actor
from mobilise.core.clock import FixedClock
from mobilise.core.db import session_scope
from mobilise.core.settings import Settings
from mobilise.core.transitions import run_transition
from mobilise.devices.models import Handset, HandsetStatus
from mobilise.people.models import Person, PersonStatus, Site
from mobilise.rollout import appointments, handover, reports, stock
from mobilise.rollout.models import Appointment, AppointmentStatus
from mobilise.rollout.notices import Notice, queue_notices
from mobilise.rollout.planning import PlanOptions, RolloutRecords, replan
from mobilise.rollout.transitions import APPOINTMENT

ACTOR = Actor("demo")
START = date(2022, 11, 7)
AS_OF = date(2023, 1, 20)
DEADLINE = date(2023, 3, 31)
# Share of the handsets in each delivery, and when it was due (PCD 1322: 29,737 in all).
# Handsets kept back from the appointments, so the served demo's hand-over desk has
# something to hand to those who came when stock ran out.
DESK_SPARES = 10
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
    handed, not_issued, missed = _run_until(settings, rng, AS_OF)
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
            f" {DEADLINE}); by {AS_OF}: {handed} handed over, {not_issued} came but no "
            f"handset was in stock, {missed} no-shows ({fc.issued} eligible people hold a "
            f"handset in the register); re-plan "
            f"booked {reapplied.booked}, moved {reapplied.moved}, plan ends {again.last_day}; "
            f"forecast finish {fc.finish or 'not in sight'}; {queued} messages queued "
            f"(see /rollout?as_of={AS_OF})")


def _run_until(settings: Settings, rng: random.Random, as_of: date) -> tuple[int, int, int]:
    """Every appointment before ``as_of`` gets its outcome: most people come and are
    handed a handset from stock at the desk (which attends their appointment), a few do
    not come; when stock runs out, those who came are attended, not issued. A few
    handsets stay on the shelf for the desk (DESK_SPARES)."""
    with session_scope(settings) as s:
        due = s.scalars(select(Appointment).where(
            Appointment.status == AppointmentStatus.BOOKED.value, Appointment.day < as_of)
            .options(joinedload(Appointment.person))
            .order_by(Appointment.day, Appointment.id)).all()
        stocked = s.scalars(select(Handset).where(
            Handset.status == HandsetStatus.IN_STOCK.value, Handset.holder_id.is_(None))
            .order_by(Handset.id)).all()
        shelf = iter(stocked[:max(len(stocked) - DESK_SPARES, 0)])
        missed: list[Appointment] = []
        without: list[Appointment] = []
        handed = 0
        for day, group in groupby(due, key=lambda a: a.day):
            pairs: list[tuple[Handset, Person]] = []
            for a in group:
                if rng.random() < 0.06:
                    missed.append(a)
                elif (handset := next(shelf, None)) is not None:
                    pairs.append((handset, a.person))
                else:
                    without.append(a)
            if pairs:
                desk = FixedClock(datetime.combine(day, time(10), tzinfo=UTC))
                handover.hand_over_many(s, ACTOR, settings, desk, pairs, method="signature")
                handed += len(pairs)
        if without:
            run_transition(s, ACTOR, APPOINTMENT, "attend_not_issued", without,
                           reason="no handset in stock")
        if missed:
            run_transition(s, ACTOR, APPOINTMENT, "no_show", missed, reason="did not attend")
    return handed, len(without), len(missed)
