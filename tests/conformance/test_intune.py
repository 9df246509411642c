"""Intune managed devices: each case once with Microsoft's SDK, once with our client."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from mobilise.emulator.server import EmulatorProcess
from tests.conformance.conftest import Driver
from tests.conformance.drivers import failure
from tests.storage.onedrive_fixture import set_faults


@pytest.fixture
def handsets(conformance_emulator: EmulatorProcess) -> Iterator[list[dict[str, str]]]:
    """Five Android devices, loaded with only the fields a test names (the rest are the
    emulator's defaults, which must parse in the v1.0 SDK)."""
    run = uuid.uuid4().hex[:8]
    devices = [{"id": f"dev-{run}-{n}", "serialNumber": f"SN{run}{n}",
                "imei": f"35{run}{n:05d}", "deviceName": f"handset {n}"} for n in range(5)]
    with conformance_emulator.admin() as admin:
        admin.post("/managedDevices", json={"value": devices}).raise_for_status()
    yield devices


def test_devices_in_pages_and_filtered(driver: Driver, handsets: list[dict[str, str]]) -> None:
    listing = driver.devices(page_size=2)
    assert {d["id"] for d in handsets} <= set(listing.names)
    assert listing.pages >= 3
    wanted = handsets[3]
    by_serial = driver.devices(100, f"serialNumber eq '{wanted['serialNumber']}'")
    assert by_serial.names == [wanted["id"]]
    by_imei = driver.devices(100, f"imei eq '{wanted['imei']}'")
    assert by_imei.names == [wanted["id"]]
    # Filters on other properties are honoured too, not ignored.
    by_name = driver.devices(100, f"deviceName eq 'handset 3' and serialNumber eq "
                                  f"'{wanted['serialNumber']}'")
    assert by_name.names == [wanted["id"]]


def test_device_values_parse_in_v1(driver: Driver, handsets: list[dict[str, str]]) -> None:
    device = driver.device(handsets[0]["id"])
    assert device["serialNumber"] == handsets[0]["serialNumber"]
    # Only v1.0 members: the SDK parses a beta-only value as None.
    assert device["managementState"] == "managed"
    assert device["deviceEnrollmentType"] is not None


@pytest.mark.parametrize(("action", "state"), [
    ("retire", "retirePending"), ("wipe", "wipePending"), ("syncDevice", "managed")])
def test_remote_actions(driver: Driver, handsets: list[dict[str, str]],
                        conformance_emulator: EmulatorProcess, action: str,
                        state: str) -> None:
    device_id = handsets[1]["id"]
    driver.act(device_id, action)
    assert driver.device(device_id)["managementState"] == state
    with conformance_emulator.admin() as admin:
        sent = [a for a in admin.get("/managedDevices/actions").json()["value"]
                if a["device_id"] == device_id]
    assert [a["action"] for a in sent] == [action]
    if action == "wipe":
        assert sent[0]["body"]["keepUserData"] is False


def test_throttled_action_is_typed(driver: Driver, handsets: list[dict[str, str]],
                                   conformance_emulator: EmulatorProcess) -> None:
    set_faults(conformance_emulator, intune_writes_per_20s=1)
    try:
        driver.act(handsets[2]["id"], "syncDevice")
        status, code = failure(lambda: driver.act(handsets[2]["id"], "syncDevice"))
    finally:
        set_faults(conformance_emulator)
    assert status == 429
    assert code in ("TooManyRequests", "activityLimitReached")
