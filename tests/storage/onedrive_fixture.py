"""The onedrive backend against a real emulator process over HTTPS.

``make_onedrive_backend(emulator, journal_dir)`` returns a ready ``OneDriveBackend`` for a
freshly provisioned person; ``onedrive_emulator`` is a session fixture serving the emulator
on a free loopback port. Also used by tests/graph and tests/emulator.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from mobilise.core.settings import Settings
from mobilise.emulator.server import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, EmulatorProcess
from mobilise.graph import GraphClient, Pacer
from mobilise.storage.onedrive import OneDriveBackend

ONE_TB = 1024**4
_people = itertools.count(1)


def fresh_upn(stem: str = "officer") -> str:
    return f"{stem}.{os.getpid()}x{next(_people)}@example.police.uk"


def start_emulator(root: Path, **faults: Any) -> EmulatorProcess:
    return EmulatorProcess(root, faults=faults).start()


def emulator_settings(emulator: EmulatorProcess, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "graph_url": emulator.graph_url,
        "graph_authority": emulator.authority,
        "graph_tenant_id": emulator.tenant,
        "graph_client_id": DEFAULT_CLIENT_ID,
        "graph_client_secret": DEFAULT_CLIENT_SECRET,
        "graph_ca_bundle": emulator.ca,
        "graph_backoff_base_seconds": 0.05,
        "graph_backoff_cap_seconds": 1.0,
        "graph_timeout_seconds": 60.0,
    }
    values.update(overrides)
    return Settings(**values)


def provision(emulator: EmulatorProcess, upn: str, quota: int = ONE_TB) -> None:
    with emulator.admin() as admin:
        admin.post("/drives", json={"userPrincipalName": upn, "quota": quota}).raise_for_status()


def set_faults(emulator: EmulatorProcess, **faults: Any) -> None:
    """Replace the fault settings (and restart the seeded RNG)."""
    with emulator.admin() as admin:
        admin.put("/faults", json=faults).raise_for_status()


def request_log(emulator: EmulatorProcess) -> list[dict[str, Any]]:
    with emulator.admin() as admin:
        rows: list[dict[str, Any]] = admin.get("/requests").json()["value"]
        return rows


def make_client(emulator: EmulatorProcess, *, units_per_minute: int = 600_000,
                transport: httpx.BaseTransport | None = None, **settings: Any) -> GraphClient:
    return GraphClient(emulator_settings(emulator, **settings),
                       pacer=Pacer(units_per_minute), transport=transport)


def make_onedrive_backend(emulator: EmulatorProcess, journal_dir: Path, *,
                          upn: str | None = None, quota: int = ONE_TB,
                          client: GraphClient | None = None,
                          **backend_options: Any) -> OneDriveBackend:
    """A ready backend on a newly provisioned drive (or ``upn``'s, provisioned if needed)."""
    upn = upn or fresh_upn()
    provision(emulator, upn, quota)
    return OneDriveBackend(client or make_client(emulator), upn, journal_dir=journal_dir,
                           **backend_options)


@pytest.fixture(scope="session")
def onedrive_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    emulator = start_emulator(tmp_path_factory.mktemp("graph-emulator"))
    yield emulator
    emulator.stop()


@contextmanager
def onedrive_backend_for_test(request: pytest.FixtureRequest,
                              tmp_path: Path) -> Iterator[OneDriveBackend]:
    """Conformance factory: a fresh, empty drive for one test on the session's emulator
    (needs ``onedrive_emulator`` importable as a fixture where the suite runs). Each test
    gets its own person, so nothing needs cleaning afterwards."""
    emulator: EmulatorProcess = request.getfixturevalue("onedrive_emulator")
    set_faults(emulator)
    yield make_onedrive_backend(emulator, tmp_path / "onedrive-journal")
