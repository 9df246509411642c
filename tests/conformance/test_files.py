"""Users, drives and files: each case once with Microsoft's SDK, once with our client."""

from __future__ import annotations

import base64
import uuid

import pytest

from mobilise.emulator.server import EmulatorProcess
from mobilise.storage.quickxor import QuickXorHash
from tests.conformance.conftest import Driver
from tests.conformance.drivers import failure
from tests.storage.onedrive_fixture import fresh_upn, provision

UNIT = 320 * 1024


def qxh(data: bytes) -> str:
    return QuickXorHash(data).b64digest()


def test_token_is_issued_and_accepted(driver: Driver, person: str) -> None:
    token = driver.token()
    assert token
    assert driver.drive_id(person)   # the token just obtained is accepted by Graph


def test_users_in_pages(driver: Driver, conformance_emulator: EmulatorProcess) -> None:
    added = [fresh_upn("pager") for _ in range(5)]
    with conformance_emulator.admin() as admin:
        for upn in added:
            admin.post("/users", json={"userPrincipalName": upn}).raise_for_status()
    listing = driver.users(page_size=2)
    assert set(added) <= set(listing.names)
    assert listing.pages >= 3
    assert len(listing.names) == len(set(listing.names))   # no page repeats another


def test_children_in_pages(driver: Driver, person: str) -> None:
    drive = driver.drive_id(person)
    driver.mkdir(drive, "", "Docs", "fail")
    for n in range(5):
        driver.put_small(drive, f"Docs/{n}.txt", b"x" * n)
    listing = driver.children(drive, "Docs", page_size=2)
    assert sorted(listing.names) == [f"{n}.txt" for n in range(5)]
    assert listing.pages == 3
    assert driver.children(drive, "", page_size=200).names == ["Docs"]


def test_item_by_path_in_both_forms(driver: Driver, person: str) -> None:
    drive = driver.drive_id(person)
    driver.mkdir(drive, "", "Docs", "fail")
    placed = driver.put_small(drive, "Docs/note.txt", b"hello world")
    literal = driver.item_by_path(drive, "Docs/note.txt", "path")       # root:/Docs/note.txt:
    encoded = driver.item_by_path(drive, "Docs/note.txt", "encoded")    # items/root%3A%2F...
    assert literal.id == encoded.id == placed.id
    assert encoded.name == "note.txt"


def test_folder_conflict_behaviours(driver: Driver, person: str) -> None:
    drive = driver.drive_id(person)
    assert driver.mkdir(drive, "", "Reports", "fail") == "Reports"
    assert failure(lambda: driver.mkdir(drive, "", "Reports", "fail")) == (
        409, "nameAlreadyExists")
    assert driver.mkdir(drive, "", "Reports", "rename") == "Reports 1"
    assert driver.mkdir(drive, "", "Reports", "replace") == "Reports"


def test_small_put_is_hash_checked(driver: Driver, person: str) -> None:
    drive = driver.drive_id(person)
    item = driver.put_small(drive, "hello.txt", b"hello world")
    assert item.size == 11
    assert item.qxh == qxh(b"hello world") == "aCgDG9jwBhDc4Q1yawMZAAAAAAA="


@pytest.mark.parametrize(("chunk", "size"), [
    # The SDK's default chunking (5 MiB, then ranges one byte longer); ours, its default.
    (None, 12 * 1024 * 1024 + 1792),
    # A multiple of 320 KiB for both.
    (10 * UNIT, 24 * UNIT + 100),
], ids=["default-chunks", "320KiB-multiple"])
def test_large_upload_through_a_session(driver: Driver, person: str, chunk: int | None,
                                        size: int) -> None:
    drive = driver.drive_id(person)
    data = (uuid.uuid4().bytes * (size // 16 + 1))[:size]
    item = driver.upload_large(drive, "big.bin", data, chunk)
    assert item.size == size
    assert item.qxh == qxh(data)


def test_delta_to_the_end_and_again_with_deletions(driver: Driver, person: str) -> None:
    drive = driver.drive_id(person)
    driver.mkdir(drive, "", "A", "fail")
    for n in range(4):
        driver.put_small(drive, f"A/{n}.txt", b"delta")
    first = driver.delta(drive, None, page_size=2)
    assert {"A", "0.txt", "3.txt"} <= set(first.changed.values())
    gone = driver.item_by_path(drive, "A/2.txt", "path").id
    driver.delete(drive, "A/2.txt")
    driver.put_small(drive, "A/new.txt", b"new")
    second = driver.delta(drive, first.link, page_size=2)
    assert gone in second.deleted
    assert "new.txt" in second.changed.values()
    assert "0.txt" not in second.changed.values()     # unchanged since the first round
    third = driver.delta(drive, second.link, page_size=2)
    assert not third.deleted and "new.txt" not in third.changed.values()


def test_refusals_are_typed(driver: Driver, person: str,
                            conformance_emulator: EmulatorProcess) -> None:
    drive = driver.drive_id(person)
    driver.put_small(drive, "kept.txt", b"kept")
    stale = '"{00000000000000000000000000000000},1"'
    assert failure(lambda: driver.delete(drive, "kept.txt", etag=stale)) == (
        412, "resourceModified")
    assert driver.item_by_path(drive, "kept.txt", "path").size == 4   # not deleted
    assert failure(lambda: driver.overlap(drive, "overlap.bin")) == (416, "invalidRange")
    small = fresh_upn("small")
    provision(conformance_emulator, small, quota=10)
    small_drive = driver.drive_id(small)
    assert failure(lambda: driver.put_small(small_drive, "big.txt", b"x" * 11)) == (
        507, "quotaLimitReached")


def test_quickxor_reference_value() -> None:
    # The value the tests compare against, from Microsoft's published algorithm.
    assert base64.b64decode(qxh(b"")) == bytes(20)
