"""Scanning over SMB against a real Samba server on loopback."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime

import pyarrow.parquet as pq
import pytest

from mobilise.core.clock import SystemClock
from mobilise.drives.assess import DriveInventory, assess
from mobilise.drives.scan import DriveToScan, ScanFailure, ScanResult, scan_drive, scan_drives
from mobilise.drives.smb_source import SmbSource, list_smb_homes
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
