from __future__ import annotations

from mobilise.finance.connected import ProgrammeRegisters
from tests.devices.fleet import Fleet


def test_registers_answer_what_they_hold(fleet: Fleet) -> None:
    sources = ProgrammeRegisters(fleet.settings)
    issued = sources.handsets_issued(fleet.session)
    assert issued.available and issued.value == 1 and issued.source == "handset register"
    assert not sources.rollout_progress(fleet.session).available  # no appointments yet
    assert not sources.people_migrated(fleet.session).available  # no migration waves yet
    risks = sources.risks(fleet.session)
    assert risks.available and risks.value == []
    tight = fleet.settings.model_copy(update={"mdm_capacity": 6})
    [risk] = ProgrammeRegisters(tight).risks(fleet.session).value or []
    assert risk.title == "MDM capacity" and risk.severity in {"high", "medium"}
