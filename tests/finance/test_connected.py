from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import select

from mobilise.core import audit
from mobilise.core.clock import FixedClock
from mobilise.core.transitions import run_transition
from mobilise.devices.models import Handset, HandsetStatus
from mobilise.finance.connected import GONE, ProgrammeRegisters
from mobilise.finance.models import HandsetPurchase
from mobilise.finance.sources import FinanceSources
from mobilise.migration.transitions import PERSON_LIFECYCLE
from mobilise.migration.waves import WaveSelection, create_wave, wave_people
from tests.devices.fleet import Fleet
from tests.factories import ADMIN


def test_registers_answer_what_they_hold(fleet: Fleet) -> None:
    sources = ProgrammeRegisters(fleet.settings)
    issued = sources.handsets_issued(fleet.session)
    assert issued.available and issued.value == 1 and issued.source == "handset register"
    # Rollout progress is the register's hand-overs, as the rollout's own pages count them:
    # the fleet's one issued handset, whether or not an appointment was attended.
    progress = sources.rollout_progress(fleet.session)
    assert progress.available and progress.source == "handset register hand-overs"
    assert progress.value is not None and progress.value.cumulative == [(date(2023, 1, 10), 1)]
    assert not sources.people_migrated(fleet.session).available  # no migration waves yet
    risks = sources.risks(fleet.session)
    assert risks.available and risks.value == []
    tight = fleet.settings.model_copy(update={"mdm_capacity": 6})
    [risk] = ProgrammeRegisters(tight).risks(fleet.session).value or []
    assert risk.title == "MDM capacity" and risk.severity in {"high", "medium"}


def test_terabytes_moved_and_migration_progress(fleet: Fleet) -> None:
    s, sources = fleet.session, ProgrammeRegisters(fleet.settings)
    assert not sources.terabytes_moved(s).available  # no round has run
    assert not sources.migration_progress(s).available  # no waves
    wave = create_wave(s, ADMIN, "w1", WaveSelection(people=["100000", "100001", "100002"]),
                       delta_rounds=1, schedule=[None, None, datetime(2026, 2, 4, tzinfo=UTC)])
    pre_seed, delta, cutover = wave.rounds
    # Two finished rounds (one failed part-way) and one still planned: 1.5 TiB + 0.5 TiB.
    with audit.change(s, ADMIN, "migration_round.summarised", pre_seed):
        pre_seed.status, pre_seed.summary = "done", {"bytes_copied": 3 * 2**39}
    with audit.change(s, ADMIN, "migration_round.summarised", delta):
        delta.status, delta.summary = "failed", {"bytes_copied": 2**39}
    with audit.change(s, ADMIN, "migration_round.summarised", cutover):
        cutover.summary = {"bytes_copied": 2**40}  # planned: not counted
    moved = sources.terabytes_moved(s)
    assert moved.value == Decimal("2.000") and moved.source == "migration round totals"
    members = wave_people(s, wave)
    for day, group in ((datetime(2026, 2, 2, 10, tzinfo=UTC), members[:2]),
                       (datetime(2026, 2, 4, 10, tzinfo=UTC), members[2:])):
        audit.use_clock(s, FixedClock(day))
        run_transition(s, ADMIN, PERSON_LIFECYCLE, "start", group)
        for m in group:
            with audit.change(s, ADMIN, "migration_person.freeze", m):
                m.source_frozen_at = day
        run_transition(s, ADMIN, PERSON_LIFECYCLE, "migrate", group, verified=True)
        s.flush()  # the audit log stamps entries with the clock when they are flushed
    progress = sources.migration_progress(s).value
    assert progress is not None
    assert progress.target == 3 and progress.deadline == date(2026, 2, 4)
    assert progress.cumulative == [(date(2026, 2, 2), 2), (date(2026, 2, 4), 3)]
    assert sources.people_migrated(s).value == 3


def test_refresh_reads_purchase_dates_from_the_register(fleet: Fleet) -> None:
    """Register handsets are due by their own purchase dates at their batch's price; an
    imported batch counts only for its handsets the register does not hold; lost, stolen,
    retired and disposed handsets are not refreshed."""
    s, settings = fleet.session, fleet.settings
    everyone = list(s.scalars(select(Handset).order_by(Handset.id)))
    first, second = everyone[:3], everyone[3:]
    for group, order, day in ((first, "PO-1", date(2021, 6, 15)),
                              (second, "PO-UNKNOWN", date(2022, 12, 9))):
        for h in group:
            with audit.change(s, ADMIN, "handset.update", h, reason="test"):
                h.purchase_order, h.purchase_date = order, day
    for ref, day, count, price in (("PO-1", date(2021, 5, 1), 10, 20_000),
                                   ("PO-2", date(2022, 4, 1), 5, 25_000)):
        audit.create(s, ADMIN, "handset_purchase.add",
                     HandsetPurchase(reference=ref, purchased_on=day, handsets=count,
                                     unit_cost_pence=price), reason="test")
    s.flush()
    in_service = [h for h in second if HandsetStatus(h.status) not in GONE]
    reading = ProgrammeRegisters(settings).handset_purchases(s)
    assert reading.value is not None
    got = [(b.reference, b.purchased_on, b.handsets, b.unit_cost_pence) for b in reading.value]
    first_in_service = sum(1 for h in first if HandsetStatus(h.status) not in GONE)
    assert got == [
        ("PO-1 (batch, not in the register)", date(2021, 5, 1), 7, 20_000),
        ("PO-1 (register)", date(2021, 6, 15), first_in_service, 20_000),
        ("PO-2 (batch, not in the register)", date(2022, 4, 1), 5, 25_000),
        # No batch names PO-UNKNOWN: the price of the last batch bought before them.
        ("PO-UNKNOWN (register)", date(2022, 12, 9), len(in_service), 25_000),
    ]
    registered = first_in_service + len(in_service)
    assert reading.source == (f"handset register purchase dates for {registered} handsets; "
                              "imported purchase batches for 12 handsets not in the register")
    # Finance alone knows only its batches.
    alone = FinanceSources().handset_purchases(s).value
    assert alone is not None and sum(b.handsets for b in alone) == 15
