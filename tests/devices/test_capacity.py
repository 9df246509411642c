"""The MDM capacity guard stops staging at the limit."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from mobilise.core.errors import CapacityExceeded, TransitionRefused
from mobilise.core.settings import Settings
from mobilise.core.transitions import run_transition
from mobilise.devices import capacity
from mobilise.devices.models import HandsetStatus
from mobilise.devices.transitions import HANDSET
from tests.devices.fleet import Fleet, build_fleet, clock, register
from tests.factories import ADMIN


def _fleet(settings: Settings, session: Session, tmp: Path, limit: int) -> Fleet:
    fleet = build_fleet(session, settings, tmp)
    fleet.settings = settings.model_copy(update={"mdm_capacity": limit,
                                                 "mdm_warning_ratio": 0.8})
    return fleet


def test_fleet_counts_managed_devices(fleet: Fleet) -> None:
    # staged, enrolled, in stock (x5), issued, returned, in repair, lost, stolen: 12.
    now = capacity.capacity(fleet.session, fleet.settings)
    assert now.managed == 12
    assert (now.capacity, now.level) == (40_000, "ok")


def test_staging_stops_at_the_limit(settings: Settings, session: Session,
                                    tmp_path: Path) -> None:
    fleet = _fleet(settings, session, tmp_path, limit=15)
    new = register(session, fleet.settings, tmp_path, range(100, 104), fleet.site,
                   name="more.csv")
    session.commit()
    moved = fleet.move("stage", new[:2])
    session.commit()
    assert moved.warnings == ["MDM capacity warning: 14 of 15 managed devices (1 spare)"]
    with pytest.raises(CapacityExceeded) as err:
        fleet.move("stage", new[2:])
    assert "staging 2 handset(s) would pass the MDM capacity: 14 of 15" in err.value.message
    session.rollback()
    assert [h.status for h in new[2:]] == ["received", "received"]
    fleet.move("stage", [new[2]])
    assert capacity.capacity(session, fleet.settings).level == "full"
    with pytest.raises(CapacityExceeded, match="15 of 15 managed devices are in use, 0 spare"):
        fleet.move("stage", [new[3]])


def test_guard_holds_even_when_the_lifecycle_is_run_directly(
        settings: Settings, session: Session, tmp_path: Path) -> None:
    fleet = _fleet(settings, session, tmp_path, limit=13)
    new = register(session, fleet.settings, tmp_path, range(100, 103), fleet.site,
                   name="more.csv")
    session.commit()
    with pytest.raises(TransitionRefused) as err:
        run_transition(session, ADMIN, HANDSET, "stage", new, clock=clock(),
                       settings=fleet.settings)
    assert "refused for 2 of 3" in err.value.message
    assert "MDM capacity reached (13 of 13 managed devices)" in err.value.message
    session.rollback()
    assert all(h.status == HandsetStatus.RECEIVED.value for h in new)


def test_restaging_a_returned_handset_needs_no_new_room(
        settings: Settings, session: Session, tmp_path: Path) -> None:
    fleet = _fleet(settings, session, tmp_path, limit=12)
    assert capacity.capacity(session, fleet.settings).level == "full"
    fleet.move("stage", [fleet.by_state[HandsetStatus.RETURNED]])
    assert capacity.capacity(session, fleet.settings).managed == 12
