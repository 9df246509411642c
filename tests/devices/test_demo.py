from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from mobilise.core.audit import AuditEntry, verify
from mobilise.core.db import session_scope
from mobilise.core.errors import TransitionRefused
from mobilise.core.settings import Settings
from mobilise.demo.devices import ALREADY_ISSUED, NEW_HANDSETS, load_devices, scaled
from mobilise.demo.run import load_people
from mobilise.devices import handsets
from mobilise.devices.models import (
    Acceptance,
    ActionKind,
    DeviceAction,
    Handset,
    HandsetStatus,
    KitIssue,
    LicenceSeat,
    Sim,
)
from mobilise.people.models import Person, PersonStatus
from tests.devices.fleet import Fleet, spares
from tests.factories import ADMIN


def test_demo_fleet_in_proportion_to_the_decision_paper(sqlite_settings: Settings,
                                                         tmp_path: Path) -> None:
    people = 450  # a hundredth of the force: 100 issued, 297 new
    load_people(sqlite_settings, tmp_path, people, 1322)
    note = load_devices(sqlite_settings, tmp_path, people, 1322)
    with session_scope(sqlite_settings) as s:
        by_status = dict(s.execute(select(Handset.status, func.count())
                                   .group_by(Handset.status)).all())
        by_po = dict(s.execute(select(Handset.purchase_order, func.count())
                               .group_by(Handset.purchase_order)).all())
        accepted = s.scalar(select(func.count()).select_from(Acceptance))
        seats = s.scalar(select(func.count()).select_from(LicenceSeat)
                         .where(LicenceSeat.released_at.is_(None)))
        kits = s.scalar(select(func.count()).select_from(KitIssue))
        holders = s.scalars(select(Handset.holder_id).where(Handset.status == "issued")).all()
        wipes = s.scalar(select(func.count()).select_from(DeviceAction)
                         .where(DeviceAction.kind == ActionKind.WIPE.value))
        bars = s.scalar(select(func.count()).select_from(DeviceAction)
                        .where(DeviceAction.kind == ActionKind.BAR_SIM.value))
        bar_states = s.scalars(select(Sim.bar_state).where(Sim.bar_state != "none")).all()
        issue_entries = s.scalar(select(func.count()).select_from(AuditEntry)
                                 .where(AuditEntry.action == "handset.issue"))
        verify(s)
    issued, new = scaled(ALREADY_ISSUED, people), scaled(NEW_HANDSETS, people)
    assert (issued, new) == (100, 297)
    assert by_po["PO-FLEET-2022"] == issued
    assert sum(n for po, n in by_po.items() if po != "PO-FLEET-2022") == new
    assert len([po for po in by_po if po and po.startswith("PO-A32-")]) == 4
    lost = by_status.get("lost", 0) + by_status.get("stolen", 0)
    assert lost == 1 and wipes == bars == lost  # 0.5% of 100, at least one
    assert by_status["issued"] + lost == issued
    assert by_status["ordered"] > 0 and by_status["received"] > 0
    assert by_status["in_stock"] > 0
    # Everyone issued accepted the policy, holds a seat and a kit, and is audited once.
    assert accepted == kits == issue_entries == issued
    assert seats == by_status["issued"]
    assert len(set(holders)) == len(holders)
    assert note.startswith(f"Handsets: {issued} handsets already issued (1 lost or stolen, "
                           "wipes queued, 1 SIM bars requested, 1 confirmed)")
    assert bar_states == ["barred"]
    assert load_devices(sqlite_settings, tmp_path, people, 1322) == \
        "Handsets: the fleet is loaded already"


def test_bulk_issue_is_refused_whole_with_every_reason(fleet: Fleet) -> None:
    s = fleet.session
    stock = spares(fleet)
    free = [p for p in fleet.people if p.status == PersonStatus.ACTIVE.value and p.eligible
            and not s.scalar(select(Handset.id).where(Handset.holder_id == p.id))]
    issued = fleet.by_state[HandsetStatus.ISSUED]
    pairs = [(stock[0], free[0]), (stock[1], free[0]), (issued, free[1])]
    before = s.scalar(select(func.count()).select_from(AuditEntry))
    with pytest.raises(TransitionRefused) as refused:
        handsets.issue_many(s, ADMIN, fleet.settings, fleet.clock, pairs, method="paper")
    reasons = refused.value.details
    assert len(reasons) == 2
    assert "would hold 2 active handsets" in reasons[0]
    assert f"handset {issued.imei}: cannot issue from issued" in reasons[1]
    s.rollback()
    assert s.scalar(select(func.count()).select_from(AuditEntry)) == before
    assert all(h.holder_id is None for h in stock[:2])


def test_bulk_issue_hands_over_in_one_run(fleet: Fleet) -> None:
    s = fleet.session
    stock = spares(fleet)[:3]
    free = [p for p in s.scalars(select(Person).order_by(Person.id))
            if p.status == PersonStatus.ACTIVE.value and p.eligible
            and not s.scalar(select(Handset.id).where(Handset.holder_id == p.id))][:3]
    n = handsets.issue_many(s, ADMIN, fleet.settings, fleet.clock,
                            list(zip(stock, free, strict=True)), method="signature")
    s.commit()
    assert n == 3
    for h, p in zip(stock, free, strict=True):
        assert h.status == "issued" and h.holder_id == p.id  # expired, so read afresh
        entry = s.scalars(select(AuditEntry).where(
            AuditEntry.action == "handset.issue", AuditEntry.entity_id == str(h.id))).one()
        assert entry.before is not None and entry.before["status"] == "in_stock"
        assert entry.after is not None and entry.after["holder_id"] == p.id
        assert entry.reason and p.number in entry.reason
    assert s.scalar(select(func.count()).select_from(Acceptance).where(
        Acceptance.handset_id.in_([h.id for h in stock]))) == 3
    verify(s)


def test_demo_handsets_are_bought_then_enrolled_then_issued_even_after_intune(
        sqlite_settings: Settings, tmp_path: Path) -> None:
    """Intune's enrolment date is the register's: a handset "enrolled 2026-10-01" was
    never "issued 2022-10-03"."""
    from mobilise.demo.intune import intune_step

    load_people(sqlite_settings, tmp_path, 60, 1322)
    load_devices(sqlite_settings, tmp_path, 60, 1322)
    intune_step(sqlite_settings, tmp_path, 60, 1322)
    with session_scope(sqlite_settings) as s:
        fleet = s.scalars(select(Handset).where(Handset.issued_at.is_not(None))).all()
        assert fleet
        for h in fleet:
            assert h.purchase_date is not None and h.enrolled_at is not None
            assert h.purchase_date <= h.enrolled_at.date() <= h.issued_at.date(), h.imei
