"""The conformance suite: Microsoft's SDK and our client run the same cases against the
emulator served over TLS (``EmulatorProcess``), each test once per client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mobilise.emulator.server import EmulatorProcess
from tests.conformance.drivers import OursDriver, SdkDriver
from tests.storage.onedrive_fixture import fresh_upn, provision, set_faults, start_emulator

Driver = SdkDriver | OursDriver


@pytest.fixture(scope="session")
def conformance_emulator(tmp_path_factory: pytest.TempPathFactory
                         ) -> Iterator[EmulatorProcess]:
    emulator = start_emulator(tmp_path_factory.mktemp("conformance-emulator"))
    yield emulator
    emulator.stop()


@pytest.fixture(params=["sdk", "ours"])
def driver(request: pytest.FixtureRequest, conformance_emulator: EmulatorProcess,
           tmp_path: Path) -> Iterator[Driver]:
    set_faults(conformance_emulator)
    made: Driver = (SdkDriver(conformance_emulator) if request.param == "sdk"
                    else OursDriver(conformance_emulator, tmp_path / "journal"))
    yield made
    made.close()


@pytest.fixture
def person(conformance_emulator: EmulatorProcess) -> str:
    upn = fresh_upn("conform")
    provision(conformance_emulator, upn)
    return upn
