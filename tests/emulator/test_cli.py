"""``mobilise emulator``: users, provisioning and apps through the CLI; faults from flags."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from mobilise.cli.emulator import app
from mobilise.emulator.server import EmulatorProcess, free_port
from mobilise.emulator.store import Store
from tests.emulator.conftest import Graph, assert_graph_error

runner = CliRunner()


def test_users_add_provision_and_apps(tmp_path: Path) -> None:
    root = tmp_path / "emu"
    upn = "sam.jones@example.police.uk"
    added = runner.invoke(app, ["users", "add", upn, "--root", str(root),
                                "--display-name", "PC Sam Jones"])
    assert added.exit_code == 0, added.output
    assert json.loads(added.output)["userPrincipalName"] == upn
    store = Store(root)
    user = store.user(upn)
    assert user is not None and user["display_name"] == "PC Sam Jones"
    assert store.drive_of_user(user["id"]) is None
    provisioned = runner.invoke(app, ["provision", upn, "--root", str(root), "--quota", "5000"])
    assert provisioned.exit_code == 0, provisioned.output
    drive = store.drive_of_user(user["id"])
    assert drive is not None and drive.quota_total == 5000
    assert runner.invoke(app, ["apps-add", "second", "--root", str(root),
                               "--secret", "pw"]).exit_code == 0
    assert store.app("second")["secret"] == "pw"  # type: ignore[index]
    store.close()


def test_users_get_app_roles_and_groups_and_apps_redirect_uris(tmp_path: Path) -> None:
    root = tmp_path / "emu"
    upn = "rm.one@example.police.uk"
    added = runner.invoke(app, ["users", "add", upn, "--root", str(root), "--app-role",
                                "Records.Manager", "--group", "g-2", "--group", "g-1"])
    assert added.exit_code == 0, added.output
    registered = runner.invoke(app, ["apps-add", "web", "--root", str(root), "--secret", "pw",
                                     "--redirect-uri", "https://m.example/auth/callback"])
    assert registered.exit_code == 0, registered.output
    store = Store(root)
    user = store.user(upn)
    assert user is not None
    assert json.loads(user["app_roles"]) == ["Records.Manager"]
    assert json.loads(user["groups"]) == ["g-1", "g-2"]
    assert json.loads(store.app("web")["redirect_uris"]) == [  # type: ignore[index]
        "https://m.example/auth/callback"]
    store.close()


def test_serve_takes_fault_flags(tmp_path: Path) -> None:
    root, port = tmp_path / "emu", free_port()
    runner.invoke(app, ["provision", "a.b@example.police.uk", "--root", str(root)])
    emulator = EmulatorProcess(root, port=port)
    log = (tmp_path / "serve.log").open("wb")
    emulator.process = subprocess.Popen(
        [sys.executable, "-m", "mobilise.emulator", "serve", "--root", str(root), "--port",
         str(port), "--throttle-rate", "1", "--retry-after", "0.5", "--seed", "3"],
        stdout=log, stderr=log)
    try:
        emulator.wait_ready(30)
        graph = Graph(emulator, "a.b@example.police.uk")
        response = graph.http.get(graph.drive)
        assert_graph_error(response, 429, "activityLimitReached", "throttledRequest")
        assert response.headers["retry-after"] == "0.5"
        with emulator.admin() as admin:
            assert admin.get("/faults").json()["seed"] == 3
    finally:
        emulator.stop()
