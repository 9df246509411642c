"""SIM bars with the carrier: queued by a loss, requested by e-mail through the outbox,
confirmed; unbarred the same way back. Every refusal changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mobilise.comms.models import OutboxMessage
from mobilise.core import audit
from mobilise.core.audit import AuditEntry
from mobilise.core.db import session_scope
from mobilise.core.errors import InvalidInput, TransitionRefused
from mobilise.devices import carrier
from mobilise.devices.carrier import EmailCarrier
from mobilise.devices.models import DeviceAction, HandsetStatus, Sim
from tests.devices.fleet import Fleet, imei
from tests.devices.test_web import (
    _csrf,
    desk,  # noqa: F401  (the service-desk web fixture)
)
from tests.factories import ADMIN
from tests.web.conftest import Web

S = HandsetStatus
DESK = "mobile-account@carrier.example"


def email(fleet: Fleet, **over: object) -> EmailCarrier:
    settings = fleet.settings.model_copy(update={"carrier_default_address": DESK, **over})
    return EmailCarrier(settings, fleet.clock)


def audit_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(AuditEntry)) or 0


def bars(session: Session) -> dict[str, str]:
    return {sim.iccid: a.status for a, sim in session.execute(
        select(DeviceAction, Sim).join(Sim, DeviceAction.sim_id == Sim.id)
        .where(DeviceAction.kind == "bar_sim"))}


def test_bar_requested_by_email_then_confirmed(fleet: Fleet) -> None:
    s = fleet.session
    h = fleet.by_state[S.ISSUED]
    fleet.move("steal", [h], police_reference="CRIS 77/23")
    sim = h.sim
    assert sim is not None
    sent = carrier.send_bars(s, ADMIN, fleet.clock, email(fleet))
    # The fleet's lost and stolen handsets queued theirs too.
    assert sim.iccid in sent.requested and len(sent.requested) == 3
    assert set(bars(s).values()) == {"sent"} and sim.bar_state == "bar_requested"
    assert not sim.barred and sim.bar_requested_at is not None
    message = s.scalars(select(OutboxMessage).where(
        OutboxMessage.template == "sim_bar", OutboxMessage.body.contains(sim.iccid))).one()
    assert message.recipient == DESK
    assert "CRIS 77/23" in message.body and h.imei in message.body
    assert message.idempotency_key in message.body  # our reference, for the reply
    # A second run has nothing left to send and sends nothing twice.
    assert carrier.send_bars(s, ADMIN, fleet.clock, email(fleet)).requested == []
    assert s.scalar(select(func.count()).select_from(OutboxMessage)
                    .where(OutboxMessage.template == "sim_bar")) == 3
    carrier.confirm_bar(s, ADMIN, fleet.clock, sim, reference="EE-55123")
    assert (sim.bar_state, sim.barred, sim.bar_reference) == ("barred", True, "EE-55123")
    assert bars(s)[sim.iccid] == "done"
    steps = s.scalars(select(AuditEntry.action).where(
        AuditEntry.entity == "sim", AuditEntry.entity_id == str(sim.id))
        .order_by(AuditEntry.seq)).all()
    assert steps[-2:] == ["sim.request_bar", "sim.confirm_bar"]


def test_carrier_addresses_by_name_and_none_configured_changes_nothing(fleet: Fleet) -> None:
    s = fleet.session
    sims = [h.sim for h in (fleet.by_state[S.LOST], fleet.by_state[S.STOLEN])]
    assert all(x is not None for x in sims)
    before = audit_count(s)
    nowhere = EmailCarrier(fleet.settings, fleet.clock)
    with pytest.raises(InvalidInput, match="no address for bar requests"):
        carrier.send_bars(s, ADMIN, fleet.clock, nowhere)
    assert audit_count(s) == before and set(bars(s).values()) == {"queued"}
    by_name = email(fleet, carrier_default_address=None,
                    carrier_addresses={"three": "bars@three.example"})
    for x in sims:
        assert x is not None
        with audit.change(s, ADMIN, "sim.carrier", x):
            x.carrier = "Three"
    s.flush()
    assert len(carrier.send_bars(s, ADMIN, fleet.clock, by_name).requested) == 2
    assert set(s.scalars(select(OutboxMessage.recipient))) == {"bars@three.example"}


def test_refused_steps_change_nothing(fleet: Fleet) -> None:
    s = fleet.session
    lost = fleet.by_state[S.LOST]
    sim = lost.sim
    assert sim is not None
    before = audit_count(s)
    with pytest.raises(TransitionRefused, match="cannot confirm_bar from none"):
        carrier.confirm_bar(s, ADMIN, fleet.clock, sim)
    with pytest.raises(TransitionRefused, match="cannot request_unbar from none"):
        carrier.request_unbar(s, ADMIN, fleet.clock, email(fleet), sim, reason="found")
    assert audit_count(s) == before and sim.bar_state == "none"
    carrier.send_bars(s, ADMIN, fleet.clock, email(fleet))
    carrier.confirm_bar(s, ADMIN, fleet.clock, sim)
    s.commit()
    before, messages = audit_count(s), s.scalar(select(func.count()).select_from(OutboxMessage))
    with pytest.raises(TransitionRefused, match="which is lost: record it found first"):
        carrier.request_unbar(s, ADMIN, fleet.clock, email(fleet), sim, reason="paid up")
    s.rollback()
    with pytest.raises(TransitionRefused, match="cannot confirm_unbar from barred"):
        carrier.confirm_unbar(s, ADMIN, fleet.clock, sim)
    s.rollback()
    assert audit_count(s) == before
    assert s.scalar(select(func.count()).select_from(OutboxMessage)) == messages
    assert sim.bar_state == "barred"


def test_unbar_after_the_handset_is_found(fleet: Fleet) -> None:
    s = fleet.session
    lost = fleet.by_state[S.LOST]
    sim = lost.sim
    assert sim is not None
    carrier.send_bars(s, ADMIN, fleet.clock, email(fleet))
    carrier.confirm_bar(s, ADMIN, fleet.clock, sim)
    fleet.move("find", [lost], reason="handed in at the front counter")
    s.commit()
    with pytest.raises(TransitionRefused, match="needs a reason"):
        carrier.request_unbar(s, ADMIN, fleet.clock, email(fleet), sim, reason=" ")
    s.rollback()
    where = carrier.request_unbar(s, ADMIN, fleet.clock, email(fleet), sim,
                                  reason="handset found")
    assert where == DESK and sim.bar_state == "unbar_requested"
    unbar = s.scalars(select(OutboxMessage).where(OutboxMessage.template == "sim_unbar")).one()
    assert sim.iccid in unbar.subject and "handset found" in unbar.body
    carrier.confirm_unbar(s, ADMIN, fleet.clock, sim, reference="EE-9")
    assert (sim.bar_state, sim.barred, sim.barred_at) == ("none", False, None)


def test_cli_send_confirm_unbar(sqlite_fleet: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from mobilise.cli import context
    from mobilise.cli.main import app

    fleet = sqlite_fleet
    lost = fleet.by_state[S.LOST]
    assert lost.sim is not None
    iccid = lost.sim.iccid
    monkeypatch.setenv("MOBILISE_DATABASE_URL", fleet.settings.database_url)
    monkeypatch.setenv("MOBILISE_CARRIER_DEFAULT_ADDRESS", DESK)
    context.settings.cache_clear()
    runner = CliRunner()
    try:
        sent = runner.invoke(app, ["sims", "send-bars", "--format", "json"])
        assert sent.exit_code == 0, sent.output
        assert json.loads(sent.stdout)[0]["requested"] == 2
        refused = runner.invoke(app, ["sims", "unbar", iccid, "--reason", "found"])
        assert isinstance(refused.exception, TransitionRefused)
        assert "cannot request_unbar from bar_requested" in refused.exception.message
        ok = runner.invoke(app, ["sims", "bar-confirm", iccid, "--reference", "EE-1"])
        assert ok.exit_code == 0 and "barred" in ok.output, ok.output
        refused = runner.invoke(app, ["sims", "unbar", iccid, "--reason", "found"])
        assert isinstance(refused.exception, TransitionRefused)
        assert "record it found first" in refused.exception.message
        listed = runner.invoke(app, ["sims", "list", "--format", "csv"])
        assert f"{iccid},,,barred" in listed.output, listed.output
    finally:
        context.settings.cache_clear()


def test_api_and_page(desk: Web, tmp_path: Path) -> None:  # noqa: F811
    desk.app.state.settings = desk.settings.model_copy(
        update={"carrier_default_address": DESK})
    r = desk.client.post(f"/api/v1/handsets/{imei(1)}/transitions/lose",
                         json={"police_reference": "CAD 9/23"}, headers=desk.as_("desk"))
    assert r.status_code == 200, r.text
    iccid = r.json()["handsets"][0]["iccid"]
    assert desk.client.post("/api/v1/sims/bars/send",
                            headers=desk.as_("viewer")).status_code == 403
    r = desk.client.post("/api/v1/sims/bars/send", headers=desk.as_("desk"))
    assert r.status_code == 200 and r.json()["requested"] == [iccid]
    r = desk.client.post(f"/api/v1/sims/{iccid}/unbar-confirm", json={},
                         headers=desk.as_("desk"))
    assert r.status_code == 409 and "cannot confirm_unbar" in r.json()["detail"]
    r = desk.client.get("/api/v1/sims?bar_state=bar_requested", headers=desk.as_("viewer"))
    assert [x["iccid"] for x in r.json()["items"]] == [iccid]
    page = desk.client.get("/sims", headers=desk.as_("viewer"))
    assert page.status_code == 200 and iccid in page.text and "bar requested" in page.text
    r = desk.client.post(f"/api/v1/sims/{iccid}/bar-confirm", json={"reference": "EE-7"},
                         headers=desk.as_("desk"))
    assert r.status_code == 200 and r.json()["bar_state"] == "barred"
    r = desk.client.post(f"/api/v1/sims/{iccid}/unbar", json={"reason": "found"},
                         headers=desk.as_("desk"))
    assert r.status_code == 409 and "record it found first" in r.json()["detail"]
    with session_scope(desk.settings) as s:
        assert s.scalars(select(Sim.bar_state).where(Sim.iccid == iccid)).one() == "barred"


def test_sim_bars_page_forms(desk: Web) -> None:  # noqa: F811
    desk.app.state.settings = desk.settings.model_copy(
        update={"carrier_default_address": DESK})
    r = desk.client.post(f"/api/v1/handsets/{imei(2)}/transitions/steal",
                         json={"police_reference": "CRIS 3/23"}, headers=desk.as_("desk"))
    iccid = r.json()["handsets"][0]["iccid"]
    assert desk.login("desk").status_code == 303
    r = desk.client.get("/sims")
    assert "1 bar request(s) waiting" in r.text
    r = desk.client.post("/sims/bars/send", data={"csrf_token": _csrf(r.text)})
    assert r.status_code == 200 and "1 bar request(s) queued" in r.text
    assert "Record bar confirmed" in r.text
    wrong = desk.client.post(f"/sims/{iccid}/bar", data={
        "csrf_token": _csrf(r.text), "step": "unbar-confirm"})
    assert wrong.status_code == 409 and "Nothing was changed" in wrong.text
    r = desk.client.post(f"/sims/{iccid}/bar", data={
        "csrf_token": _csrf(r.text), "step": "bar-confirm", "text": "EE-77"})
    assert r.status_code == 200 and "bar confirm recorded" in r.text
    assert "Request unbar" in r.text
    with session_scope(desk.settings) as s:
        assert s.scalars(select(Sim.bar_reference).where(Sim.iccid == iccid)).one() == "EE-77"
