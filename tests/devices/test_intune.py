"""Intune reconciliation and the action sender against the Graph emulator over HTTPS."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from mobilise.core.audit import AuditEntry
from mobilise.core.db import session_scope
from mobilise.core.errors import TransitionRefused
from mobilise.core.progress import Job
from mobilise.devices import intune
from mobilise.devices.intune import MismatchKind, WritePacer
from mobilise.devices.models import DeviceAction, Handset, HandsetStatus
from mobilise.emulator.server import EmulatorProcess
from mobilise.graph import GraphClient, InvalidRequest
from tests.devices.fleet import Fleet, imei
from tests.devices.test_web import desk  # noqa: F401  (the service-desk web fixture)
from tests.factories import ADMIN
from tests.storage.onedrive_fixture import (
    emulator_settings,
    make_client,
    request_log,
    set_faults,
    start_emulator,
)
from tests.web.conftest import Web

S = HandsetStatus


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    process = start_emulator(tmp_path_factory.mktemp("intune-emulator"))
    yield process
    process.stop()


@pytest.fixture
def graph(emulator: EmulatorProcess) -> Iterator[GraphClient]:
    """A clean tenant (no devices, no faults, empty request log) and a client for it."""
    set_faults(emulator)
    with emulator.admin() as admin:
        admin.delete("/managedDevices").raise_for_status()
        admin.delete("/requests").raise_for_status()
    client = make_client(emulator)
    yield client
    client.close()


def device_of(h: Handset, **fields: Any) -> dict[str, Any]:
    return {"id": f"md-{h.imei}", "deviceName": f"{h.serial}_AndroidEnterprise",
            "imei": h.imei, "serialNumber": h.serial, "complianceState": "compliant",
            "enrolledDateTime": "2026-10-01T09:00:00Z",
            "lastSyncDateTime": "2026-11-20T08:30:00Z", "operatingSystem": "Android",
            "osVersion": "14", "androidSecurityPatchLevel": "2026-10-01",
            "model": "SM-A325F", "manufacturer": "samsung", **fields}


def load(emulator: EmulatorProcess, devices: list[dict[str, Any]]) -> None:
    with emulator.admin() as admin:
        admin.post("/managedDevices", json={"value": devices}).raise_for_status()


def emulator_actions(emulator: EmulatorProcess) -> list[dict[str, Any]]:
    with emulator.admin() as admin:
        rows: list[dict[str, Any]] = admin.get("/managedDevices/actions").json()["value"]
        return rows


def kinds(report: intune.SyncReport) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for m in report.mismatches:
        out.setdefault(m.kind.value, set()).add(m.imei)
    return out


def fleet_devices(fleet: Fleet, *, leave_out: tuple[Handset, ...] = ()
                  ) -> list[dict[str, Any]]:
    """A device for every handset the register says Intune should hold."""
    skip = {h.id for h in leave_out}
    return [device_of(h) for h in fleet.session.scalars(select(Handset))
            if h.state in intune.EXPECTED_IN_INTUNE and h.id not in skip]


def test_reconciliation_updates_register_and_reports_each_mismatch(
        fleet: Fleet, emulator: EmulatorProcess, graph: GraphClient) -> None:
    by = fleet.by_state
    issued, staged, enrolled = by[S.ISSUED], by[S.STAGED], by[S.ENROLLED]
    holder, other = fleet.people[0], fleet.people[1]
    assert issued.holder_id == holder.id
    in_stock = by[S.IN_STOCK]
    devices = fleet_devices(fleet, leave_out=(in_stock, issued, enrolled))
    devices += [
        device_of(enrolled, complianceState="noncompliant", osVersion="15",
                  androidSecurityPatchLevel="2026-11-01"),
        device_of(issued, userPrincipalName=other.upn),
        device_of(staged, deviceName=f"Staging_{staged.serial}_11/20/2026_9:00 AM",
                  complianceState="unknown", lastSyncDateTime="0001-01-01T00:00:00Z"),
        {"id": "md-stranger", "deviceName": "Stranger", "imei": imei(900),
         "serialNumber": "RZ8STRANGER", "complianceState": "compliant"},
    ]
    load(emulator, devices)
    report = intune.sync_intune(fleet.session, ADMIN, graph, fleet.settings)
    assert kinds(report) == {
        MismatchKind.NOT_REGISTERED.value: {imei(900)},
        MismatchKind.MISSING.value: {in_stock.imei},
        MismatchKind.WRONG_USER.value: {issued.imei},
        MismatchKind.STAGING.value: {staged.imei},
    }
    wrong = next(m for m in report.mismatches if m.kind is MismatchKind.WRONG_USER)
    assert (wrong.holder_upn, wrong.signed_in_upn) == (holder.upn, other.upn)
    # The missing handset was looked up by identifier before being reported.
    assert report.looked_up == 1
    assert any(f"imei eq '{in_stock.imei}'" in r["path"].replace("%27", "'")
               .replace("%20", " ").replace("+", " ") for r in request_log(emulator))
    fleet.session.refresh(enrolled)
    assert (enrolled.compliance, enrolled.os_version, enrolled.security_patch,
            enrolled.intune_id) == ("noncompliant", "15", "2026-11-01", f"md-{enrolled.imei}")
    assert enrolled.last_sync_at is not None and enrolled.last_sync_at.day == 20
    fleet.session.refresh(staged)
    assert staged.last_sync_at is None and staged.signed_in_upn is None
    assert fleet.session.scalars(select(AuditEntry).where(
        AuditEntry.action == "handset.intune_sync",
        AuditEntry.entity_id == str(enrolled.id))).first() is not None
    # A second run finds nothing new to write: the comparison survives the round trip.
    again = intune.sync_intune(fleet.session, ADMIN, graph, fleet.settings)
    assert again.updated == 0 and again.matched == report.matched


def test_matches_by_serial_when_intune_has_no_imei(
        fleet: Fleet, emulator: EmulatorProcess, graph: GraphClient) -> None:
    h = fleet.by_state[S.ENROLLED]
    load(emulator, [device_of(h, imei="", serialNumber=h.serial.lower())])
    report = intune.sync_intune(fleet.session, ADMIN, graph, fleet.settings)
    assert h.imei not in kinds(report).get(MismatchKind.MISSING.value, set())
    assert h.imei not in kinds(report).get(MismatchKind.NOT_REGISTERED.value, set())
    fleet.session.refresh(h)
    assert h.intune_id == f"md-{h.imei}"


def test_paging_over_more_than_a_thousand_devices(
        fleet: Fleet, emulator: EmulatorProcess, graph: GraphClient) -> None:
    strangers = [{"id": f"md-x{n}", "imei": imei(10_000 + n), "serialNumber": f"RZX{n:06d}",
                  "deviceName": f"X{n}"} for n in range(2_345)]
    load(emulator, strangers + fleet_devices(fleet))
    report = intune.sync_intune(fleet.session, ADMIN, graph, fleet.settings)
    assert report.devices == 2_345 + report.matched
    assert len(kinds(report)[MismatchKind.NOT_REGISTERED.value]) == 2_345
    assert MismatchKind.MISSING.value not in kinds(report)
    lists = [r for r in request_log(emulator)
             if r["method"] == "GET" and r["path"].startswith(
                 "/v1.0/deviceManagement/managedDevices?")]
    assert len(lists) == 3 and sum("skiptoken" in r["path"] for r in lists) == 2


def test_lost_handset_wipe_reaches_intune_through_429s(
        fleet: Fleet, emulator: EmulatorProcess, graph: GraphClient) -> None:
    lost, stolen, retired, disposed = (fleet.by_state[s] for s in (
        S.LOST, S.STOLEN, S.RETIRED, S.DISPOSED))
    load(emulator, [device_of(h) for h in (lost, stolen, retired, disposed)])
    set_faults(emulator, seed=4, throttle_rate=0.5, retry_after=0.05)
    report = intune.send_actions(fleet.session, graph, fleet.settings, fleet.clock,
                                 actor=ADMIN)
    assert report.summary() | {"waited_seconds": 0} == {
        "sent": 4, "failed": 0, "throttled": 0, "not_found": 0, "waited_seconds": 0}
    queue = {(a.handset_id, a.kind): a.status for a in fleet.session.scalars(
        select(DeviceAction).where(DeviceAction.kind.in_(["wipe", "retire"])))}
    assert queue == {(lost.id, "wipe"): "sent", (stolen.id, "wipe"): "sent",
                     (retired.id, "retire"): "sent", (disposed.id, "retire"): "sent"}
    recorded = {(a["device_id"], a["action"]) for a in emulator_actions(emulator)}
    assert recorded == {(f"md-{lost.imei}", "wipe"), (f"md-{stolen.imei}", "wipe"),
                        (f"md-{retired.imei}", "retire"), (f"md-{disposed.imei}", "retire")}
    wipe = next(a for a in emulator_actions(emulator) if a["action"] == "wipe")
    assert wipe["body"]["keepUserData"] is False
    set_faults(emulator)
    assert graph.get_json(f"deviceManagement/managedDevices/md-{lost.imei}")[
        "managementState"] == "wipePending"
    posts = [r for r in request_log(emulator) if r["method"] == "POST"]
    assert any(r["status"] == 429 for r in posts), "no 429 was injected on an action"
    assert sum(r["status"] == 204 for r in posts) == 4


def test_intune_write_limit_puts_the_action_back_after_retry_after(
        fleet: Fleet, emulator: EmulatorProcess, graph: GraphClient) -> None:
    load(emulator, [device_of(fleet.by_state[s])
                    for s in (S.LOST, S.STOLEN, S.RETIRED, S.DISPOSED)])
    set_faults(emulator, intune_writes_per_20s=2)
    impatient = make_client(emulator, graph_max_retries=0)
    try:
        report = intune.send_actions(fleet.session, impatient, fleet.settings, fleet.clock,
                                     actor=ADMIN)
    finally:
        impatient.close()
    assert (report.sent, report.throttled) == (2, 2)
    put_back = fleet.session.scalars(select(DeviceAction).where(
        DeviceAction.kind.in_(["wipe", "retire"]), DeviceAction.status == "queued")).all()
    assert len(put_back) == 2
    back = put_back[0]
    assert back.attempts == 1 and (back.last_error or "").startswith("throttled")
    assert back.not_before is not None
    wait = intune._utc(back.not_before) - intune._utc(fleet.clock.now())
    assert 1 <= wait.total_seconds() <= 20
    assert back not in intune.actions.due_actions(fleet.session, fleet.clock, "intune", 10)


def test_action_for_a_handset_intune_does_not_know_is_retried_later(
        fleet: Fleet, emulator: EmulatorProcess, graph: GraphClient) -> None:
    report = intune.send_actions(fleet.session, graph, fleet.settings, fleet.clock,
                                 actor=ADMIN)
    assert report.sent == 0 and report.not_found == 4
    waiting = fleet.session.scalars(select(DeviceAction).where(
        DeviceAction.kind.in_(["wipe", "retire"]))).all()
    assert {a.status for a in waiting} == {"queued"}
    assert all("not in Intune" in (a.last_error or "") for a in waiting)
    assert emulator_actions(emulator) == []


def test_write_pacer_holds_writes_to_the_window() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = WritePacer(3, 20.0, monotonic=lambda: now[0], sleep=sleep)
    starts = []
    for _ in range(7):
        pacer.acquire()
        starts.append(now[0])
        now[0] += 1.0
    assert starts == [0.0, 1.0, 2.0, 20.0, 21.0, 22.0, 40.0]
    # Never more than three writes in any 20 seconds.
    assert all(sum(s <= t < s + 20 for t in starts) <= 3 for s in starts)


def test_emulator_managed_devices_endpoint(emulator: EmulatorProcess, graph: GraphClient,
                                           tmp_path: Path) -> None:
    load(emulator, [{"id": "md-1", "imei": imei(1), "serialNumber": "RZ1"},
                    {"id": "md-2", "imei": imei(2), "serialNumber": "RZ'2"}])
    assert [d["id"] for d in graph.items(intune.DEVICES, params={
        "$filter": "serialNumber eq 'RZ''2'"})] == ["md-2"]
    device = graph.get_json(f"{intune.DEVICES}/md-1")
    assert (device["managementState"], device["managedDeviceOwnerType"]) == ("managed",
                                                                             "company")
    # Filters on other properties are honoured (Intune does), not refused or ignored...
    assert graph.get_json(intune.DEVICES, params={"$filter": "model eq 'x'"})["value"] == []
    # ...and a syntax the emulator does not know is refused, never ignored.
    with pytest.raises(InvalidRequest):
        graph.get_json(intune.DEVICES, params={"$filter": "contains(model, 'x')"})
    with emulator.admin() as admin:
        with httpx.Client(verify=emulator.tls()) as raw:
            answer = raw.post(f"{emulator.graph_url}/{intune.DEVICES}/md-1/wipe")
        assert answer.status_code == 401
        assert admin.get("/managedDevices/actions").json()["value"] == []
    graph.request("POST", f"{intune.DEVICES}/md-1/syncDevice", json={})
    assert graph.get_json(f"{intune.DEVICES}/md-1")["lastSyncDateTime"] != \
        "0001-01-01T00:00:00Z"


def test_cli_sync_and_send(sqlite_fleet: Fleet, emulator: EmulatorProcess, graph: GraphClient,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from typer.testing import CliRunner

    from mobilise.cli import context
    from mobilise.cli.main import app

    fleet = sqlite_fleet
    lost = fleet.by_state[S.LOST]
    load(emulator, fleet_devices(fleet) + [device_of(lost)])
    env = {"DATABASE_URL": fleet.settings.database_url, "GRAPH_URL": emulator.graph_url,
           "GRAPH_AUTHORITY": emulator.authority, "GRAPH_TENANT_ID": emulator.tenant,
           "GRAPH_CA_BUNDLE": str(emulator.ca), "GRAPH_CLIENT_ID": "mobilise-app",
           "GRAPH_CLIENT_SECRET": "emulator-secret"}
    for key, value in env.items():
        monkeypatch.setenv(f"MOBILISE_{key}", value)
    context.settings.cache_clear()
    runner = CliRunner()
    try:
        synced = runner.invoke(app, ["devices", "sync-intune", "--format", "json"])
        assert synced.exit_code == 0, synced.output
        assert json.loads(synced.stdout) == []
        sent = runner.invoke(app, ["devices", "send-actions", "--format", "json"])
        assert sent.exit_code == 0, sent.output
        assert json.loads(sent.stdout)[0]["sent"] == 1
        with session_scope(fleet.settings) as s:
            job = s.scalars(select(Job).where(Job.kind == "intune-actions")).one()
            assert (job.status, job.done, job.total) == ("done", 4, 4)  # 3 not in Intune
    finally:
        context.settings.cache_clear()
    assert [a["action"] for a in emulator_actions(emulator)] == ["wipe"]


def test_api_sync_for_the_service_desk(desk: Web, emulator: EmulatorProcess,  # noqa: F811
                                       graph: GraphClient) -> None:
    with session_scope(desk.settings) as s:
        stocked = {h.imei: h for h in s.scalars(select(Handset))}
        load(emulator, [device_of(stocked[imei(n)]) for n in range(1, 5)])
    desk.app.state.settings = emulator_settings(
        emulator, database_url=desk.settings.database_url)
    refused = desk.client.post("/api/v1/handsets/intune-sync", headers=desk.as_("viewer"))
    assert refused.status_code == 403
    answer = desk.client.post("/api/v1/handsets/intune-sync", headers=desk.as_("desk"))
    assert answer.status_code == 202, answer.text
    job = wait_for_job(desk, answer)
    assert job["status"] == "done", job.get("message")
    body = job["stats"]
    assert (body["matched"], body["missing_from_intune"]) == (4, 1)
    assert [m["imei"] for m in body["mismatches"]] == [imei(5)]
    assert body["mismatches_total"] == 1


def wait_for_job(web: Web, started: Any, timeout: float = 120) -> dict[str, Any]:
    import time

    job: dict[str, Any] = started.json()
    assert started.headers["location"] == f"/api/v1/jobs/{job['id']}"
    deadline = time.monotonic() + timeout
    while job["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.2)
        job = web.client.get(started.headers["location"], headers=web.as_("viewer")).json()
    return job


def test_api_sync_with_graph_unreachable_answers_at_once(desk: Web) -> None:  # noqa: F811
    """The sync runs as a job: the request holds no server thread while Graph is retried."""
    import socket
    import time

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there
    desk.app.state.settings = desk.settings.model_copy(update={
        "graph_url": f"https://127.0.0.1:{port}/v1.0",
        "graph_authority": f"https://127.0.0.1:{port}/tenant",
        "graph_max_retries": 2, "graph_backoff_base_seconds": 0.5})
    began = time.monotonic()
    answer = desk.client.post("/api/v1/handsets/intune-sync", headers=desk.as_("desk"))
    took = time.monotonic() - began
    assert answer.status_code == 202, answer.text
    assert took < 3, f"the request waited {took:.1f}s for Graph"
    job = wait_for_job(desk, answer)
    assert job["status"] == "failed" and job["kind"] == "intune-sync", job


def check_in(emulator: EmulatorProcess, ids: list[str] | None = None,
             **body: Any) -> int:
    with emulator.admin() as admin:
        answer = admin.post("/managedDevices/checkin",
                            json={**({"ids": ids} if ids is not None else {}), **body})
        answer.raise_for_status()
        ended: int = answer.json()["ended"]
        return ended


def test_emulator_action_results_pending_until_the_device_checks_in(
        emulator: EmulatorProcess, graph: GraphClient) -> None:
    load(emulator, [{"id": "md-1", "imei": imei(1), "serialNumber": "RZ1"},
                    {"id": "md-2", "imei": imei(2), "serialNumber": "RZ2"}])
    assert graph.get_json(f"{intune.DEVICES}/md-1")["deviceActionResults"] == []
    graph.request("POST", f"{intune.DEVICES}/md-1/wipe", json={"keepUserData": False})
    graph.request("POST", f"{intune.DEVICES}/md-2/retire", json={})
    device = graph.get_json(f"{intune.DEVICES}/md-1")
    [result] = device["deviceActionResults"]
    assert (result["actionName"], result["actionState"]) == ("wipe", "pending")
    assert result["startDateTime"] == result["lastUpdatedDateTime"]
    assert device["managementState"] == "wipePending"
    assert check_in(emulator, ["md-1"]) == 1
    device = graph.get_json(f"{intune.DEVICES}/md-1")
    assert device["deviceActionResults"][0]["actionState"] == "done"
    assert device["managementState"] == "wipeIssued"
    # The other device has not checked in; when it does, its retire can fail.
    assert graph.get_json(f"{intune.DEVICES}/md-2")["deviceActionResults"][0][
        "actionState"] == "pending"
    assert check_in(emulator, outcome="failed") == 1
    device = graph.get_json(f"{intune.DEVICES}/md-2")
    assert (device["deviceActionResults"][0]["actionState"], device["managementState"]) == (
        "failed", "retireFailed")
    assert check_in(emulator) == 0  # nothing pending is left
    with emulator.admin() as admin:
        assert admin.post("/managedDevices/checkin",
                          json={"outcome": "maybe"}).status_code == 400


def test_sync_records_action_outcomes_and_wipe_evidence_for_disposal(
        fleet: Fleet, emulator: EmulatorProcess, graph: GraphClient) -> None:
    lost, stolen, retired, disposed = (fleet.by_state[s] for s in (
        S.LOST, S.STOLEN, S.RETIRED, S.DISPOSED))
    load(emulator, fleet_devices(fleet)
         + [device_of(h) for h in (lost, stolen, retired, disposed)])
    sent = intune.send_actions(fleet.session, graph, fleet.settings, fleet.clock, actor=ADMIN)
    assert sent.sent == 4  # two wipes, two retires (the retired and the disposed handset)
    pending = intune.sync_intune(fleet.session, ADMIN, graph, fleet.settings,
                                 clock=fleet.clock)
    assert (pending.actions_done, pending.actions_failed) == (0, 0)
    check_in(emulator, [f"md-{lost.imei}", f"md-{retired.imei}"])
    check_in(emulator, [f"md-{stolen.imei}"], outcome="failed")
    report = intune.sync_intune(fleet.session, ADMIN, graph, fleet.settings,
                                clock=fleet.clock)
    fleet.session.commit()
    assert (report.actions_done, report.actions_failed) == (2, 1)
    status = {(a.handset_id, a.kind): a.status for a in fleet.session.scalars(
        select(DeviceAction).where(DeviceAction.kind.in_(["wipe", "retire"])))}
    assert status == {(lost.id, "wipe"): "done", (stolen.id, "wipe"): "failed",
                      (retired.id, "retire"): "done", (disposed.id, "retire"): "sent"}
    failed = fleet.session.scalars(select(DeviceAction).where(
        DeviceAction.handset_id == stolen.id, DeviceAction.kind == "wipe")).one()
    assert "Intune reports the wipe failed" in (failed.last_error or "")
    fleet.session.refresh(lost)
    assert (lost.wipe_evidence or "").startswith("Intune wipe done at ")
    assert stolen.wipe_evidence is None
    # A third sync changes nothing more: outcomes are read once.
    again = intune.sync_intune(fleet.session, ADMIN, graph, fleet.settings, clock=fleet.clock)
    assert (again.actions_done, again.actions_failed) == (0, 0)
    # The confirmed wipe is the disposal's evidence; the failed one is not.
    fleet.move("retire", [lost, stolen], reason="written off")
    fleet.move("dispose", [lost], weee_reference="WEEE-2023-002")
    assert lost.status == "disposed" and "Intune wipe done" in (lost.wipe_evidence or "")
    with pytest.raises(TransitionRefused, match="needs the wipe evidence"):
        fleet.move("dispose", [stolen], weee_reference="WEEE-2023-003")


def test_api_sends_actions_as_a_background_job(desk: Web, emulator: EmulatorProcess,  # noqa: F811
                                               graph: GraphClient) -> None:
    import time

    with session_scope(desk.settings) as s:
        stocked = {h.imei: h for h in s.scalars(select(Handset))}
        load(emulator, [device_of(stocked[imei(n)]) for n in range(1, 6)])
    r = desk.client.post("/api/v1/handsets/transitions/lose",
                         json={"imeis": [imei(1), imei(2)], "police_reference": "CAD 1/23"},
                         headers=desk.as_("desk"))
    assert r.status_code == 200, r.text
    desk.app.state.settings = emulator_settings(
        emulator, database_url=desk.settings.database_url)
    assert desk.client.post("/api/v1/handsets/actions/send",
                            headers=desk.as_("viewer")).status_code == 403
    started = desk.client.post("/api/v1/handsets/actions/send", headers=desk.as_("desk"))
    assert started.status_code == 202, started.text
    job = started.json()
    assert started.headers["location"] == f"/api/v1/jobs/{job['id']}"
    assert job["kind"] == "intune-actions" and job["status"] in ("queued", "running", "done")
    deadline = time.monotonic() + 60
    while job["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.2)
        job = desk.client.get(started.headers["location"], headers=desk.as_("viewer")).json()
    assert job["status"] == "done", job
    assert (job["done"], job["total"]) == (2, 2) and job["stats"]["sent"] == 2
    assert sorted(a["action"] for a in emulator_actions(emulator)) == ["wipe", "wipe"]
    with session_scope(desk.settings) as s:
        assert {a.status for a in s.scalars(select(DeviceAction).where(
            DeviceAction.kind == "wipe"))} == {"sent"}


def test_background_job_that_cannot_start_is_marked_failed(desk: Web) -> None:  # noqa: F811
    import time

    desk.app.state.settings = desk.settings.model_copy(
        update={"background_executor": "nonsense"})
    started = desk.client.post("/api/v1/handsets/actions/send", headers=desk.as_("desk"))
    assert started.status_code == 202
    deadline, job = time.monotonic() + 30, started.json()
    while job["status"] != "failed" and time.monotonic() < deadline:
        time.sleep(0.1)
        job = desk.client.get(started.headers["location"], headers=desk.as_("viewer")).json()
    assert job["status"] == "failed" and "unknown executor 'nonsense'" in job["message"]
    # The register page starts the same job and shows it on the live status page.
    assert desk.login("desk").status_code == 303
    page = desk.client.get("/handsets")
    assert "remote action(s)" in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    r = desk.client.post("/handsets/actions/send", data={"csrf_token": token.group(1)},
                         follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/jobs"


def test_two_senders_at_once_send_each_action_once(
        fleet: Fleet, emulator: EmulatorProcess, graph: GraphClient) -> None:
    """Two action senders started together (two web requests, two workers): every wipe
    and retire reaches Intune once, and is recorded sent once."""
    import threading

    from mobilise.core.db import session_factory

    load(emulator, [device_of(fleet.by_state[s])
                    for s in (S.LOST, S.STOLEN, S.RETIRED, S.DISPOSED)])
    fleet.session.commit()
    barrier = threading.Barrier(2)
    reports: list[intune.SendReport] = []

    def sender() -> None:
        client = make_client(emulator)
        with session_factory(fleet.settings)() as s:
            barrier.wait()
            reports.append(intune.send_actions(s, client, fleet.settings, fleet.clock,
                                               actor=ADMIN))
        client.close()

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sent = sorted((a["device_id"], a["action"]) for a in emulator_actions(emulator))
    assert len(sent) == len(set(sent)) == 4, sent
    assert sum(r.sent for r in reports) == 4
    with session_scope(fleet.settings) as s:
        recorded = [e.entity_id for e in s.scalars(select(AuditEntry).where(
            AuditEntry.action == "device_action.sent"))]
    assert len(recorded) == len(set(recorded)) == 4
