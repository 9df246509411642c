"""Entra ID group membership (Known Folder Move): each case once with Microsoft's SDK,
once with our client."""

from __future__ import annotations

import uuid

from mobilise.emulator.server import EmulatorProcess
from tests.conformance.conftest import Driver
from tests.conformance.drivers import failure
from tests.storage.onedrive_fixture import fresh_upn, provision


def _group(emulator: EmulatorProcess) -> str:
    with emulator.admin() as admin:
        made = admin.post("/groups", json={"displayName": f"KFM {uuid.uuid4().hex[:6]}"})
        made.raise_for_status()
    return str(made.json()["id"])


def test_add_a_member_then_list_the_group(driver: Driver,
                                           conformance_emulator: EmulatorProcess) -> None:
    group = _group(conformance_emulator)
    upns = [fresh_upn("kfm") for _ in range(2)]
    for upn in upns:
        provision(conformance_emulator, upn)
        assert driver.add_member(group, driver.user_id(upn)) is True
    assert sorted(driver.members(group)) == sorted(upns)


def test_adding_a_member_twice_is_refused_with_microsofts_error(
        driver: Driver, conformance_emulator: EmulatorProcess) -> None:
    group = _group(conformance_emulator)
    upn = fresh_upn("kfm")
    provision(conformance_emulator, upn)
    member = driver.user_id(upn)
    driver.add_member(group, member)
    if driver.name == "sdk":
        assert failure(lambda: driver.add_member(group, member)) == (400, "Request_BadRequest")
    else:  # ours reports it as already a member rather than failing
        assert driver.add_member(group, member) is False
    assert driver.members(group) == [upn]


def test_a_member_or_group_that_does_not_exist_is_404(
        driver: Driver, conformance_emulator: EmulatorProcess) -> None:
    group = _group(conformance_emulator)
    missing = str(uuid.uuid4())
    assert failure(lambda: driver.add_member(group, missing)) == (
        404, "Request_ResourceNotFound")
    upn = fresh_upn("kfm")
    provision(conformance_emulator, upn)
    assert failure(lambda: driver.add_member(missing, driver.user_id(upn))) == (
        404, "Request_ResourceNotFound")
