"""The rollout plans from the handset register: whoever holds an issued handset is not
planned again, and staged stock and managed devices are the register's."""

from __future__ import annotations

from mobilise.devices.models import HandsetStatus
from mobilise.rollout.planning import RolloutRecords
from tests.devices.fleet import Fleet


def test_register_holders_stock_and_managed_devices(fleet: Fleet) -> None:
    session = fleet.session
    records = RolloutRecords(managed_before=10_000)
    holder = fleet.by_state[HandsetStatus.ISSUED].holder_id
    returned = fleet.people[1].id  # had a handset, gave it back
    with_handset = records.people_with_handset(session)
    assert holder in with_handset
    assert returned not in with_handset
    # one staged, one enrolled, one in stock, and the four spares in stock
    assert records.staged_on_hand(session) == 7
    assert RolloutRecords(staged=3).staged_on_hand(session) == 3
    managed = records.managed_devices(session)
    assert 10_000 < managed < 10_000 + 16
