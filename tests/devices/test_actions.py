"""The remote-action queue: outcomes, back-off, Retry-After, giving up, retrying."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from mobilise.core.errors import Conflict
from mobilise.devices import actions
from mobilise.devices.models import ActionKind, DeviceAction, HandsetStatus
from tests.devices.fleet import Fleet
from tests.factories import ADMIN


def _wipe(fleet: Fleet) -> DeviceAction:
    h = fleet.by_state[HandsetStatus.ISSUED]
    fleet.move("steal", [h], police_reference="CRIS 1/23")
    fleet.session.flush()
    return fleet.session.scalars(select(DeviceAction).where(
        DeviceAction.handset_id == h.id, DeviceAction.kind == "wipe")).one()


def test_queue_keeps_one_waiting_action_per_kind(fleet: Fleet) -> None:
    wipe = _wipe(fleet)
    again = actions.queue_action(fleet.session, ADMIN, fleet.clock, wipe.handset,
                                 ActionKind.WIPE, reason="second report")
    assert again.id == wipe.id


def test_due_actions_by_target_and_back_off(fleet: Fleet) -> None:
    wipe = _wipe(fleet)
    intune = actions.due_actions(fleet.session, fleet.clock, "intune", 10)
    carrier = actions.due_actions(fleet.session, fleet.clock, "carrier", 10)
    # The fleet's lost, stolen and retired handsets queued theirs too; wipes and retires go
    # to Intune, SIM bars to the carrier.
    assert wipe in intune and {a.kind for a in intune} == {"wipe", "retire"}
    assert carrier and all(a.kind == "bar_sim" for a in carrier)
    actions.record_failure(fleet.session, ADMIN, fleet.clock, wipe, "429 Too Many Requests",
                           retry_after=timedelta(seconds=20))
    fleet.session.flush()
    assert (wipe.status, wipe.attempts) == ("queued", 1)
    assert wipe not in actions.due_actions(fleet.session, fleet.clock, "intune", 10)
    fleet.clock.advance(timedelta(seconds=21))
    assert wipe in actions.due_actions(fleet.session, fleet.clock, "intune", 10)


def test_sent_then_done(fleet: Fleet) -> None:
    wipe = _wipe(fleet)
    actions.record_sent(fleet.session, ADMIN, wipe)
    assert (wipe.status, wipe.attempts) == ("sent", 1)
    with pytest.raises(Conflict, match="is sent, not queued"):
        actions.record_sent(fleet.session, ADMIN, wipe)
    actions.record_done(fleet.session, ADMIN, fleet.clock, wipe)
    assert (wipe.status, wipe.finished_at) == ("done", fleet.clock.now())


def test_gives_up_after_max_attempts_and_can_be_retried(fleet: Fleet) -> None:
    wipe = _wipe(fleet)
    for n in range(actions.MAX_ATTEMPTS):
        actions.record_failure(fleet.session, ADMIN, fleet.clock, wipe, f"503 attempt {n}")
    assert (wipe.status, wipe.attempts, wipe.last_error) == (
        "failed", actions.MAX_ATTEMPTS, f"503 attempt {actions.MAX_ATTEMPTS - 1}")
    with pytest.raises(Conflict):
        actions.record_failure(fleet.session, ADMIN, fleet.clock, wipe, "again")
    actions.retry_failed(fleet.session, ADMIN, wipe, "Intune outage over")
    assert (wipe.status, wipe.attempts, wipe.not_before) == ("queued", 0, None)


def test_back_off_doubles(fleet: Fleet) -> None:
    wipe = _wipe(fleet)
    waits = []
    for _ in range(3):
        actions.record_failure(fleet.session, ADMIN, fleet.clock, wipe, "500")
        assert wipe.not_before is not None
        waits.append((wipe.not_before - fleet.clock.now()).total_seconds())
    assert waits == [30, 60, 120]
