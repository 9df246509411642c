"""Scanning over SMB against a real Samba server on loopback."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pyarrow.parquet as pq
import pytest

from mobilise.core.clock import SystemClock
from mobilise.drives.assess import DriveInventory, FindingKind, assess
from mobilise.drives.scan import DriveToScan, ScanFailure, ScanResult, scan_drive, scan_drives
from mobilise.drives.smb_source import SmbSource, list_smb_homes, original_name
from tests.drives.samba import Samba, start_samba, stop_samba


@pytest.fixture(scope="module")
def samba(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Samba]:
    base = tmp_path_factory.mktemp("samba")
    share = tmp_path_factory.mktemp("share")
    server, proc = start_samba(base, share)
    try:
        yield server
    finally:
        stop_samba(proc)


def _source(samba: Samba) -> SmbSource:
    return SmbSource("127.0.0.1", samba.port, samba.username, samba.password)


def test_scan_a_home_over_smb(samba, tmp_path):
    home = samba.root / "jsmith"
    (home / "Docs" / "Deep").mkdir(parents=True)
    (home / "Docs" / "report.docx").write_bytes(b"12345")
    (home / "Docs" / "Deep" / "tool.jar").write_bytes(b"")
    (home / "Report.DOCX").write_bytes(b"1")
    (home / "report.docx").write_bytes(b"22")
    os.symlink("..", home / "Docs" / "Deep" / "up")  # Samba follows it: a loop back up
    when = datetime(2019, 5, 4, 3, 2, 1, tzinfo=UTC).timestamp()
    os.utime(home / "Docs" / "report.docx", (when, when))

    result = scan_drive("p1", "jo@example.police.uk", "home/jsmith", tmp_path, SystemClock(),
                        source=_source(samba))
    rows = {r["path"]: r for r in pq.read_table(result.inventory).to_pylist()}
    assert set(rows) == {b"Docs", b"Docs/Deep", b"Docs/report.docx", b"Docs/Deep/tool.jar",
                         b"Report.DOCX", b"report.docx", b"Docs/Deep/up"}
    doc = rows[b"Docs/report.docx"]
    assert (doc["kind"], doc["size"], doc["extension"]) == ("file", 5, "docx")
    assert doc["modified"] == datetime(2019, 5, 4, 3, 2, 1, tzinfo=UTC)
    assert rows[b"Docs"]["kind"] == "folder" and rows[b"Docs/Deep"]["depth"] == 2
    assert rows[b"Docs/Deep/up"]["error"] == "loop"
    assert (result.files, result.bytes) == (4, 8)

    found = assess([DriveInventory("p1", "jo@example.police.uk", result.inventory)],
                   quota_bytes=1024)
    kinds = {(f["path_text"], f["finding"]) for f in found.findings.to_pylist()}
    assert kinds == {("Docs/Deep/tool.jar", "blocked_type"), ("Docs/Deep/up", "loop"),
                     ("Report.DOCX", "case_collision"), ("report.docx", "case_collision")}


def test_unreachable_or_refused_drives_fail_alone(samba, tmp_path):
    (samba.root / "ok").mkdir()
    (samba.root / "ok" / "a.txt").write_text("x")
    drives = [DriveToScan("ok", "ok@example.police.uk", "home/ok"),
              DriveToScan("gone", "gone@example.police.uk", "home/missing")]
    results = scan_drives(drives, tmp_path, SystemClock(), processes=2, source=_source(samba))
    assert isinstance(results[0], ScanResult) and results[0].files == 1
    assert isinstance(results[1], ScanFailure)
    wrong = SmbSource("127.0.0.1", samba.port, samba.username, "wrong password")
    refused = scan_drives(drives[:1], tmp_path, SystemClock(), processes=1, source=wrong)
    assert isinstance(refused[0], ScanFailure)


def test_list_homes_on_the_share(samba):
    (samba.root / "alpha").mkdir(exist_ok=True)
    (samba.root / "file.txt").write_text("x")
    homes = list_smb_homes(_source(samba), "home")
    assert "\\\\127.0.0.1\\home\\alpha" in homes
    assert not any(h.endswith("file.txt") for h in homes)


def test_register_scan_over_smb_with_discovery(samba, sqlite_settings, tmp_path):
    from pydantic import SecretStr
    from sqlalchemy import select

    from mobilise.core import audit
    from mobilise.core.db import session_factory
    from mobilise.drives import estate
    from mobilise.people.models import Person
    from tests.factories import ADMIN, load_people

    session = session_factory(sqlite_settings)()
    try:
        load_people(session, tmp_path, count=2)
        people = list(session.scalars(select(Person).order_by(Person.number)))
        (samba.root / people[0].sam_account_name / "Docs").mkdir(parents=True)
        (samba.root / people[0].sam_account_name / "Docs" / "~$a.docx").write_text("abc")
        (samba.root / "orphan-drive").mkdir(exist_ok=True)
        sam = people[0].sam_account_name
        with audit.change(session, ADMIN, "person.update", people[0]):
            people[0].home_directory = f"\\\\isilon.example.police.uk\\home$\\{sam}"
        settings = sqlite_settings.model_copy(update={
            "smb_server": "127.0.0.1", "smb_port": samba.port, "smb_share": "home",
            "smb_username": samba.username, "smb_password": SecretStr(samba.password),
            "home_unc_root": "\\\\isilon.example.police.uk\\home$"})
        result = estate.scan_people(session, settings, people, SystemClock(),
                                    source=estate.smb_source(settings))
        assert [m.person_key for m in result.discovery.matched] == [people[0].number]
        assert [m.person_key for m in result.discovery.without_drive] == [people[1].number]
        assert "\\\\127.0.0.1\\home\\orphan-drive" in result.discovery.orphans
        (scan,) = result.scans
        assert (scan.status, scan.files, scan.bytes, scan.to_rename) == ("complete", 1, 3, 1)
    finally:
        session.rollback()
        session.close()


# Names Windows forbids (stored as they are on the Linux file system under the share).
FORBIDDEN = {"a:b.txt": "invalid_characters", "pipe|x.txt": "invalid_characters",
             'quo"te.txt': "invalid_characters", "bell\x07.txt": "invalid_characters",
             "what?.docx": "invalid_characters", "star*.txt": "invalid_characters",
             "trail.": "trailing_period", "trail ": "leading_or_trailing_space"}


def _forbidden_home(samba: Samba, name: str) -> None:
    home = samba.root / name
    home.mkdir()
    for file_name in [*FORBIDDEN, "ok.txt", "back\\slash.txt"]:
        (home / file_name).write_bytes(b"x")


def _scan_names(samba: Samba, tmp_path, share_path: str, *, map_names: bool = False
                ) -> tuple[set[str], list[dict]]:
    source = SmbSource("127.0.0.1", samba.port, samba.username, samba.password,
                       map_private_names=map_names)
    result = scan_drive("p1", "jo@example.police.uk", share_path, tmp_path, SystemClock(),
                        source=source)
    names = {r["name"] for r in pq.read_table(result.inventory).to_pylist()}
    found = assess([DriveInventory("p1", "jo@example.police.uk", result.inventory)],
                   quota_bytes=1024)
    return names, found.findings.to_pylist()


def test_a_default_share_mangles_forbidden_names_and_the_assessment_warns(samba, tmp_path):
    _forbidden_home(samba, "mangled")
    names, findings = _scan_names(samba, tmp_path, "home/mangled")
    made_up = names - {"ok.txt"}
    assert len(made_up) == len(FORBIDDEN) + 1  # every forbidden name, and the backslash
    assert all(re.fullmatch(r"[0-9A-Z_]{6}~[0-9A-Z_](\.[0-9A-Z_]{1,3})?", n) for n in made_up)
    assert {(f["name"], f["finding"]) for f in findings} == {
        (n, "mangled_name") for n in made_up}
    assert FindingKind.MANGLED_NAME.action.value == "warning"


def test_catia_with_mangling_off_shows_names_faithfully_once_mapped_back(samba, tmp_path):
    _forbidden_home(samba, "catia")
    shown, _ = _scan_names(samba, tmp_path / "shown", "faithful/catia")
    names, findings = _scan_names(samba, tmp_path / "mapped", "faithful/catia", map_names=True)
    assert names == set(FORBIDDEN) | {"ok.txt", "back\\slash.txt"}
    assert {"a\uf022b.txt", "bell\uf007.txt", "what\uf025.docx"} <= shown  # private use
    assert {original_name(n) for n in shown} == names
    assert {(f["name"], f["finding"]) for f in findings} == {
        *FORBIDDEN.items(), ("back\\slash.txt", "invalid_characters")}


def test_over_smb_a_name_that_is_not_utf8_is_unseen_and_on_catia_hides_what_follows(
        samba, tmp_path):
    """Samba cannot show a name in a legacy encoding at all; on a catia share its listing
    also stops there, so every entry after it (in directory order) is missing too. This
    is why docs/drives.md recommends mangling off without catia, and a POSIX scan for
    legacy names."""
    home = samba.root / "legacy"
    home.mkdir()
    for i in range(12):
        (home / f"f{i}.txt").write_bytes(b"x")
    (home / os.fsdecode(b"caf\xe9.txt")).write_bytes(b"x")
    order = os.listdir(os.fsencode(home))
    before = {os.fsdecode(n) for n in order[:order.index(b"caf\xe9.txt")]}
    every = {os.fsdecode(n) for n in order} - {os.fsdecode(b"caf\xe9.txt")}
    verbatim, _ = _scan_names(samba, tmp_path / "v", "verbatim/legacy")
    catia, _ = _scan_names(samba, tmp_path / "c", "faithful/legacy")
    assert verbatim == every
    assert catia == before


def test_mangling_off_alone_shows_every_name_as_stored(samba, tmp_path):
    _forbidden_home(samba, "verbatim")
    names, findings = _scan_names(samba, tmp_path, "verbatim/verbatim")
    assert names == set(FORBIDDEN) | {"ok.txt", "back\\slash.txt"}
    assert {(f["name"], f["finding"]) for f in findings} == {
        *FORBIDDEN.items(), ("back\\slash.txt", "invalid_characters")}
