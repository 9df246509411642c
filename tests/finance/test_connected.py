from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from mobilise.core import audit
from mobilise.core.clock import FixedClock
from mobilise.core.transitions import run_transition
from mobilise.finance.connected import ProgrammeRegisters
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
