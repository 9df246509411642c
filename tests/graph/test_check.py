"""``mobilise graph check`` against the emulator: a full grant, a missing permission
(403), an unprovisioned OneDrive, and the canary upload."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from mobilise.cli.main import app as cli
from mobilise.emulator.server import EmulatorProcess
from mobilise.graph.check import FILES_WRITE, USERS_READ, CheckStep, check_tenant
from mobilise.storage.onedrive import canary_upload
from tests.storage.onedrive_fixture import (
    fresh_upn,
    make_client,
    onedrive_emulator,
    provision,
    request_log,
    set_faults,
)

__all__ = ["onedrive_emulator"]


def by_step(steps: list[CheckStep]) -> dict[str, CheckStep]:
    return {s.step.split(" of ")[0].split(" in ")[0]: s for s in steps}


def app_with_roles(emulator: EmulatorProcess, roles: list[str]) -> str:
    client_id = f"limited-{fresh_upn('app')}"
    with emulator.admin() as admin:
        admin.post("/apps", json={"client_id": client_id, "client_secret": "pw",
                                  "roles": roles}).raise_for_status()
    return client_id


def test_everything_granted_with_a_canary(onedrive_emulator: EmulatorProcess) -> None:
    set_faults(onedrive_emulator)
    upn = fresh_upn()
    provision(onedrive_emulator, upn)
    with onedrive_emulator.admin() as admin:
        admin.delete("/requests")
    steps = by_step(check_tenant(make_client(onedrive_emulator), upn=upn, folder="Checks",
                                 canary=canary_upload))
    assert {k: s.outcome for k, s in steps.items()} == {
        "token": "ok", "read users": "ok", "read the OneDrive": "ok",
        "list the drive's root": "ok", "delta (latest token)": "ok",
        "canary upload": "ok", "read Intune devices": "ok",
        "Intune retire/wipe (not tried)": "not probed"}
    assert steps["canary upload"].permission == FILES_WRITE
    assert "verified, deleted" in steps["canary upload"].detail
    writes = [r for r in request_log(onedrive_emulator)
              if r["method"] not in ("GET",) and r["path"].startswith("/v1.0/")]
    # The canary is the only write: its folder, its session, its commit, its deletion.
    assert all("/deviceManagement/" not in r["path"] for r in writes)
    assert [r["method"] for r in writes if r["method"] == "DELETE"] == ["DELETE"]


def test_missing_permission_is_named(onedrive_emulator: EmulatorProcess) -> None:
    set_faults(onedrive_emulator)
    upn = fresh_upn()
    provision(onedrive_emulator, upn)
    client_id = app_with_roles(onedrive_emulator, ["Files.Read.All"])
    client = make_client(onedrive_emulator, graph_client_id=client_id,
                         graph_client_secret="pw", graph_max_retries=0)
    steps = by_step(check_tenant(client, upn=upn, folder="Checks", canary=canary_upload))
    assert steps["read users"].outcome == "refused"
    assert steps["read users"].permission == USERS_READ
    assert "403" in steps["read users"].detail and USERS_READ in steps["read users"].detail
    assert steps["read the OneDrive"].outcome == "ok"
    assert steps["canary upload"].outcome == "refused"          # reading is not writing
    assert steps["read Intune devices"].outcome == "refused"


def test_unprovisioned_onedrive(onedrive_emulator: EmulatorProcess) -> None:
    set_faults(onedrive_emulator)
    upn = fresh_upn("unprovisioned")
    with onedrive_emulator.admin() as admin:
        admin.post("/users", json={"userPrincipalName": upn}).raise_for_status()
    steps = check_tenant(make_client(onedrive_emulator), upn=upn, folder="Checks",
                         canary=canary_upload)
    drive = by_step(steps)["read the OneDrive"]
    assert drive.outcome == "not provisioned" and "pre-provision" in drive.detail
    assert "canary upload" not in by_step(steps)          # nothing to write to


def test_cli_prints_the_steps_and_fails_on_a_refusal(onedrive_emulator: EmulatorProcess,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    from mobilise.cli import context

    set_faults(onedrive_emulator)
    upn = fresh_upn()
    provision(onedrive_emulator, upn)
    client_id = app_with_roles(onedrive_emulator, ["Files.ReadWrite.All", "User.Read.All",
                                                   "DeviceManagementManagedDevices.Read.All"])
    for name, value in {"GRAPH_URL": onedrive_emulator.graph_url,
                        "GRAPH_AUTHORITY": onedrive_emulator.authority,
                        "GRAPH_TENANT_ID": onedrive_emulator.tenant,
                        "GRAPH_CLIENT_ID": client_id, "GRAPH_CLIENT_SECRET": "pw",
                        "GRAPH_CA_BUNDLE": str(onedrive_emulator.ca),
                        "DATA_DIR": str(tmp_path)}.items():
        monkeypatch.setenv(f"MOBILISE_{name}", value)
    context.settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["graph", "check", "--upn", upn, "--folder", "Checks",
                                          "--format", "json"])
    finally:
        context.settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert '"canary upload in Checks"' in result.output
    denied = app_with_roles(onedrive_emulator, [])
    monkeypatch.setenv("MOBILISE_GRAPH_CLIENT_ID", denied)
    try:
        refused = CliRunner().invoke(cli, ["graph", "check", "--upn", upn])
    finally:
        context.settings.cache_clear()
    assert refused.exit_code == 1
    assert "User.Read.All" in refused.output
