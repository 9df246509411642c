"""The handset lifecycle: every disallowed transition is refused with a reason and
changes nothing; guards and effects of the allowed ones."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mobilise.core.audit import AuditEntry
from mobilise.core.errors import TransitionRefused
from mobilise.devices import handsets
from mobilise.devices.models import (
    Acceptance,
    ActionKind,
    DeviceAction,
    Handset,
    HandsetStatus,
    KitIssue,
    LicenceSeat,
    RecoveryTask,
    Sim,
)
from mobilise.devices.transitions import HANDSET
from mobilise.people.models import Person, PersonStatus
from tests.devices.fleet import Fleet, build_fleet, spares
from tests.factories import ADMIN

S = HandsetStatus
# Parameters that satisfy every guard a transition can have, so that a refusal can only
# come from the source state.
EVERYTHING = {"police_reference": "CAD 1/23", "repair_reference": "REP-9",
              "wipe_evidence": "Blancco 1", "weee_reference": "WEEE-1", "method": "signature",
              "policy_version": "1.0", "compliance": "compliant"}

DISALLOWED = [(t.name, state) for t in HANDSET.transitions for state in S
              if state not in t.sources]


def _counts(session: Session) -> tuple[int, int, int, int, int]:
    return tuple(session.scalar(select(func.count()).select_from(model)) or 0  # type: ignore[return-value]
                 for model in (AuditEntry, DeviceAction, LicenceSeat, Acceptance, RecoveryTask))


@pytest.fixture(scope="module")
def module_fleet(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Fleet:
    import shutil

    from mobilise.core.db import session_factory
    from mobilise.core.settings import Settings

    tmp = tmp_path_factory.mktemp("fleet")
    shutil.copy(sqlite_template, tmp / "m.db")
    settings = Settings(database_url=f"sqlite:///{tmp / 'm.db'}")
    return build_fleet(session_factory(settings)(), settings, tmp)


def test_the_table_covers_every_state() -> None:
    reachable = {t.target for t in HANDSET.transitions}
    assert reachable == set(S) - {S.ORDERED}
    assert len(DISALLOWED) > 100


@pytest.mark.parametrize(("name", "state"), DISALLOWED,
                         ids=[f"{n}-from-{s.value}" for n, s in DISALLOWED])
def test_disallowed_transition_is_refused_and_changes_nothing(
    module_fleet: Fleet, name: str, state: HandsetStatus
) -> None:
    fleet = module_fleet
    handset = fleet.by_state[state]
    before = handset.audit_snapshot()
    counts = _counts(fleet.session)
    with pytest.raises(TransitionRefused) as err:
        fleet.move(name, [handset], reason="test", person=fleet.people[5], **EVERYTHING)
    assert f"cannot {name} from {state.value}" in err.value.message
    assert "nothing changed" in err.value.message
    fleet.session.rollback()
    fleet.session.expire_all()
    assert fleet.session.get(Handset, handset.id).audit_snapshot() == before  # type: ignore[union-attr]
    assert _counts(fleet.session) == counts


def test_refusals_change_nothing_on_both_databases(fleet: Fleet) -> None:
    """The same matrix, checked in one pass on SQLite and PostgreSQL."""
    counts = _counts(fleet.session)
    snapshots = {h.id: h.audit_snapshot() for h in fleet.by_state.values()}
    for name, state in DISALLOWED:
        with pytest.raises(TransitionRefused, match=f"cannot {name} from {state.value}"):
            fleet.move(name, [fleet.by_state[state]], reason="test", person=fleet.people[5],
                       **EVERYTHING)
        fleet.session.rollback()
    fleet.session.expire_all()
    for hid, snap in snapshots.items():
        assert fleet.session.get(Handset, hid).audit_snapshot() == snap  # type: ignore[union-attr]
    assert _counts(fleet.session) == counts


def test_bulk_run_with_one_bad_handset_moves_none(fleet: Fleet) -> None:
    good = spares(fleet)[:3]
    bad = fleet.by_state[S.DISPOSED]
    with pytest.raises(TransitionRefused) as err:
        fleet.move("repair", [*good, bad], repair_reference="REP-2")
    assert "refused for 1 of 4" in err.value.message
    fleet.session.rollback()
    assert all(fleet.session.get(Handset, h.id).status == S.IN_STOCK.value  # type: ignore[union-attr]
               for h in good)


def test_transitions_are_audited_with_before_and_after(fleet: Fleet) -> None:
    h = spares(fleet)[0]
    fleet.move("repair", [h], reason="screen cracked", repair_reference="REP-3")
    fleet.session.flush()
    entry = fleet.session.scalars(select(AuditEntry).where(
        AuditEntry.action == "handset.repair", AuditEntry.entity_id == str(h.id))).one()
    assert entry.before["status"] == "in_stock"  # type: ignore[index]
    assert entry.after["status"] == "in_repair"  # type: ignore[index]
    assert entry.after["repair_reference"] == "REP-3"  # type: ignore[index]
    assert entry.reason == "screen cracked"


# --- issue ---------------------------------------------------------------------------------

def _refusal(fleet: Fleet, h: Handset, person: Person, **params: object) -> str:
    with pytest.raises(TransitionRefused) as err:
        fleet.issue(h, person, **params)
    fleet.session.rollback()
    return err.value.message


def test_issue_records_acceptance_seat_sim_and_kit(fleet: Fleet) -> None:
    h = spares(fleet)[0]
    person = fleet.people[6]
    kit = handsets.get_kit(fleet.session, "KIT-A32")
    fleet.issue(h, person, method="web-form", policy_version="2.1", kit=kit)
    fleet.session.commit()
    assert h.status == "issued" and h.holder_id == person.id and h.sim_id is not None
    acceptance = fleet.session.scalars(select(Acceptance).where(
        Acceptance.handset_id == h.id)).one()
    assert (acceptance.policy_version, acceptance.method) == ("2.1", "web-form")
    assert acceptance.recorded_by == ADMIN.name
    seat = fleet.session.scalars(select(LicenceSeat).where(LicenceSeat.handset_id == h.id)).one()
    assert seat.person_id == person.id and seat.released_at is None
    assert fleet.session.scalars(select(KitIssue).where(KitIssue.handset_id == h.id)).one()


def test_issue_needs_an_enrolled_compliant_handset(fleet: Fleet) -> None:
    h = spares(fleet)[0]
    handsets.record_compliance(fleet.session, ADMIN, h, "noncompliant")
    assert "not compliant" in _refusal(fleet, h, fleet.people[6])


def test_issue_refuses_a_leaver_and_an_ineligible_person(fleet: Fleet) -> None:
    h = spares(fleet)[0]
    person = fleet.people[6]
    from mobilise.core import audit

    with audit.change(fleet.session, ADMIN, "person.update", person):
        person.status = PersonStatus.LEAVER.value
    assert "is a leaver" in _refusal(fleet, h, person)
    person = fleet.session.get(Person, fleet.people[7].id)
    assert person is not None
    with audit.change(fleet.session, ADMIN, "person.update", person):
        person.eligible = False
        person.eligibility_reason = "civilian back-office role"
    assert "not eligible for a handset: civilian back-office role" in _refusal(fleet, h, person)


def test_second_handset_needs_a_recorded_adjustment(fleet: Fleet) -> None:
    holder = fleet.people[0]  # holds the issued handset of the fleet
    first, second = spares(fleet)[:2]
    why = _refusal(fleet, first, holder)
    assert "already holds 1 active handset(s) and no recorded adjustment" in why
    handsets.allow_extra_handset(fleet.session, ADMIN, holder, "OH referral: hearing aid "
                                 "streaming needs a second device", reference="OH-77")
    fleet.issue(first, holder)
    assert first.status == "issued"
    assert "already holds 2 active handset(s)" in _refusal(fleet, second, holder)


def test_issue_needs_a_free_licence_seat(settings, session: Session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fleet = build_fleet(session, settings, tmp_path, seats=1)
    # The fleet's one seat went to its issued handset; the returned one gave its seat back.
    why = _refusal(fleet, spares(fleet)[0], fleet.people[6])
    assert "no free NetMotion licence seat (1 of 1 assigned)" in why


def test_issue_needs_a_usable_sim(fleet: Fleet) -> None:
    h = spares(fleet)[0]
    handsets.fit_sim(fleet.session, ADMIN, h, None)
    assert "needs a SIM" in _refusal(fleet, h, fleet.people[6])
    h = spares(fleet)[0]
    other_sim = fleet.by_state[S.ISSUED].sim
    assert other_sim is not None
    why = _refusal(fleet, h, fleet.people[6], sim=other_sim)
    assert f"SIM {other_sim.iccid} is fitted to handset" in why
    spare_sim = handsets.add_sim(fleet.session, ADMIN, "8944110000000009991",
                                 msisdn="07700 900123", carrier="EE")
    fleet.session.flush()
    from mobilise.core import audit

    with audit.change(fleet.session, ADMIN, "sim.bar", spare_sim):
        spare_sim.barred = True
    handsets.fit_sim(fleet.session, ADMIN, h, None)
    assert "is barred" in _refusal(fleet, h, fleet.people[6], sim=spare_sim)


def test_issue_needs_a_known_acceptance_method(fleet: Fleet) -> None:
    why = _refusal(fleet, spares(fleet)[0], fleet.people[6], method="shrug")
    assert "needs how acceptance was given" in why


# --- loss, repair, return, retirement --------------------------------------------------------

def test_lost_needs_police_reference_and_queues_wipe_and_sim_bar(fleet: Fleet) -> None:
    h = fleet.by_state[S.ISSUED]
    with pytest.raises(TransitionRefused, match="needs the police reference"):
        fleet.move("lose", [h])
    fleet.session.rollback()
    fleet.move("steal", [h], police_reference="CRIS 999/23", reason="taken from vehicle")
    fleet.session.commit()
    queued = fleet.session.scalars(select(DeviceAction).where(
        DeviceAction.handset_id == h.id).order_by(DeviceAction.id)).all()
    assert [(a.kind, a.status) for a in queued] == [(ActionKind.WIPE.value, "queued"),
                                                    (ActionKind.BAR_SIM.value, "queued")]
    assert "CRIS 999/23" in (queued[0].reason or "")
    assert h.police_reference == "CRIS 999/23"
    assert fleet.session.scalars(select(LicenceSeat).where(
        LicenceSeat.handset_id == h.id)).one().released_at is not None


def test_return_releases_holder_and_seat(fleet: Fleet) -> None:
    h = fleet.by_state[S.ISSUED]
    fleet.move("return", [h], site=fleet.site)
    assert h.holder_id is None and h.status == "returned"
    fleet.session.flush()
    seat = fleet.session.scalars(select(LicenceSeat).where(LicenceSeat.handset_id == h.id)).one()
    assert seat.released_at is not None


def test_dispose_needs_wipe_evidence_and_weee_reference(fleet: Fleet) -> None:
    h = fleet.by_state[S.RETIRED]
    with pytest.raises(TransitionRefused,
                       match="needs the wipe evidence and the WEEE disposal reference"):
        fleet.move("dispose", [h])
    fleet.session.rollback()
    with pytest.raises(TransitionRefused, match="needs the WEEE disposal reference"):
        fleet.move("dispose", [h], wipe_evidence="Blancco 5")
    fleet.session.rollback()
    fleet.move("dispose", [h], wipe_evidence="Blancco 5", weee_reference="WEEE-9")
    assert (h.status, h.weee_reference) == ("disposed", "WEEE-9")


def test_retire_needs_a_reason_and_queues_an_intune_retire(fleet: Fleet) -> None:
    h = spares(fleet)[0]
    with pytest.raises(TransitionRefused, match="retire needs a reason"):
        fleet.move("retire", [h])
    fleet.session.rollback()
    fleet.move("retire", [h], reason="end of life")
    fleet.session.flush()
    action = fleet.session.scalars(select(DeviceAction).where(
        DeviceAction.handset_id == h.id)).one()
    assert action.kind == "retire" and h.sim_id is None


def test_leaver_gets_a_recovery_task_with_a_due_date(fleet: Fleet) -> None:
    from datetime import date

    from mobilise.core import audit

    h = fleet.by_state[S.ISSUED]
    holder = fleet.session.get(Person, h.holder_id)
    assert holder is not None
    with audit.change(fleet.session, ADMIN, "person.leave", holder):
        holder.status = PersonStatus.LEAVER.value
        holder.left_on = date(2023, 1, 6)
    tasks = handsets.open_recovery_tasks(fleet.session, ADMIN, fleet.settings, fleet.clock)
    assert [(t.handset_id, t.due_on) for t in tasks] == [(h.id, date(2023, 1, 24))]
    assert handsets.open_recovery_tasks(fleet.session, ADMIN, fleet.settings, fleet.clock) == []
    fleet.move("return", [h])
    fleet.session.flush()
    assert tasks[0].status == "done"


def test_sim_is_barred_when_the_carrier_confirms_the_bar(fleet: Fleet) -> None:
    from mobilise.devices import carrier

    h = fleet.by_state[S.ISSUED]
    fleet.move("lose", [h], police_reference="CAD 5/23")
    fleet.session.flush()
    bar = fleet.session.scalars(select(DeviceAction).where(
        DeviceAction.handset_id == h.id, DeviceAction.kind == "bar_sim")).one()
    settings = fleet.settings.model_copy(update={"carrier_default_address": "bars@x.example"})
    carrier.send_bars(fleet.session, ADMIN, fleet.clock,
                      carrier.EmailCarrier(settings, fleet.clock))
    sim = fleet.session.get(Sim, bar.sim_id)
    assert sim is not None and not sim.barred and bar.status == "sent"
    carrier.confirm_bar(fleet.session, ADMIN, fleet.clock, sim)
    assert sim.barred and bar.status == "done"
