"""Disposal of files whose names are not valid UTF-8, and of files that cannot be read:
a real scan of a real folder, a batch over the scanned drives, the local storage backend
(SQLite and PostgreSQL keep the raw bytes)."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilise.core.actor import Actor, Role
from mobilise.core.audit import AuditEntry
from mobilise.core.clock import FixedClock
from mobilise.core.settings import Settings
from mobilise.drives.estate import scan_people
from mobilise.people.models import Person
from mobilise.retention import disposal, rule_sets
from mobilise.retention.models import ItemOutcome
from mobilise.retention.scanned import drive_of, propose_scanned
from mobilise.storage.base import Backend, Capability
from tests.factories import load_people

RM1 = Actor("rm1", frozenset({Role.RECORDS}))
RM2 = Actor("rm2", frozenset({Role.RECORDS}))
CLOCK = FixedClock(datetime(2026, 11, 22, 9, 0, tzinfo=UTC))
AS_OF = date(2026, 11, 22)
RULES = """
rule_set: raw
version: 1
rules:
  - id: tmp-files
    title: Temporary files
    authority: "Not a record"
    action: dispose
    period: 0d
    select:
      extension: [tmp]
default:
  id: everything-else
  action: migrate
"""
ODD = b"Temp/caf\xe9 \xff.tmp"  # Latin-1 bytes: not valid UTF-8
FILES = {ODD: b"odd", b"Temp/ok.tmp": b"fine", b"Temp/locked.tmp": b"locked",
         b"Documents/keep.docx": b"keep"}


class Source:
    """The person's drive as ``drive_of`` opens it, optionally without raw names (as SMB
    is) and with files that fail to read (as a failing disk or a denied ACL does)."""

    def __init__(self, inner: Backend, *, raw_names: bool, unreadable: set[str]) -> None:
        self.inner, self.unreadable = inner, unreadable
        self.name = inner.name if raw_names else "smb"
        self.capabilities = inner.capabilities if raw_names else (
            inner.capabilities - {Capability.RAW_NAMES})

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.inner, attribute)

    def open_read(self, path: str) -> BinaryIO:
        if path in self.unreadable:
            raise OSError(errno.EIO, "Input/output error", path)
        return self.inner.open_read(path)


@pytest.fixture
def drive(settings: Settings, session: Session, tmp_path: Path) -> tuple[Settings, Path]:
    load_people(session, tmp_path, count=1)
    home = Path(settings.home_root) / "asmith0"
    for rel, data in FILES.items():
        target = os.path.join(os.fsencode(home), rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as out:
            out.write(data)
        os.utime(target, (1_700_000_000, 1_700_000_000))
    configured = settings.model_copy(update={"home_template": str(settings.home_root) + "/{sam}"})
    scan_people(session, configured, list(session.query(Person)), CLOCK)
    rule_sets.add_rule_set(session, RM1, RULES, clock=CLOCK)
    rule_sets.activate(session, RM1, "raw", 1, reason="test", clock=CLOCK)
    session.commit()
    return configured, home


def _source(session: Session, settings: Settings, *, raw_names: bool = True,
            unreadable: set[str] | None = None) -> Callable[[str], Backend]:
    opened = drive_of(session, settings)
    failing = unreadable if unreadable is not None else set()
    return lambda number: Source(opened(number), raw_names=raw_names, unreadable=failing)


def _exists(home: Path, rel: bytes) -> bool:
    return os.path.exists(os.path.join(os.fsencode(home), rel))


def test_a_name_that_is_not_utf8_is_disposed_by_its_bytes_and_an_unreadable_file_is_skipped(
        drive: tuple[Settings, Path], session: Session) -> None:
    settings, home = drive
    version = rule_sets.get_version(session, "raw")
    batch = propose_scanned(session, RM1, settings, version, AS_OF)
    session.commit()
    items = {i.path: i for i in batch.items}
    odd = next(i for i in batch.items if i.raw_path is not None)
    assert odd.raw_path == ODD and odd.path == "Temp/caf\\xe9 \\xff.tmp"
    assert odd.outcome == "pending" and odd.sha256 is not None and odd.size == 3
    assert {"Temp/ok.tmp", "Temp/locked.tmp"} <= items.keys()
    disposal.approve_batch(session, RM2, batch.id, clock=CLOCK)
    session.commit()

    # Between approval and execution the disk fails under one file.
    unreadable = {"Temp/locked.tmp"}
    disposal.execute_batch(session, RM2, batch.id,
                           _source(session, settings, unreadable=unreadable), clock=CLOCK)
    session.commit()
    outcome = {i.path: (i.outcome, i.skip_reason) for i in batch.items}
    assert outcome[odd.path] == ("deleted", None)
    assert outcome["Temp/ok.tmp"] == ("deleted", None)
    state, why = outcome["Temp/locked.tmp"]
    assert state == "skipped" and why is not None and "cannot read the file" in why
    assert not _exists(home, ODD) and not _exists(home, b"Temp/ok.tmp")
    assert _exists(home, b"Temp/locked.tmp") and _exists(home, b"Documents/keep.docx")
    assert (batch.deleted_files, batch.skipped_files) == (2, 1)

    # The certificate and the audit log name the odd file by its exact bytes too.
    rows = {r["path"]: r for r in disposal.certificate_rows(session, batch.id)}
    assert rows.keys() == {odd.path, "Temp/ok.tmp"}
    assert rows[odd.path]["path_bytes"] == ODD.hex() and rows["Temp/ok.tmp"]["path_bytes"] is None
    disposed = [e.after for e in session.scalars(
        select(AuditEntry).where(AuditEntry.action == "retention.file.dispose"))]
    assert {(d["path"], d["path_bytes"]) for d in disposed if d} == {
        (odd.path, ODD.hex()), ("Temp/ok.tmp", None)}


def test_a_backend_without_raw_names_skips_such_a_file_with_the_reason(
        drive: tuple[Settings, Path], session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    settings, home = drive
    version = rule_sets.get_version(session, "raw")
    smb = _source(session, settings, raw_names=False)
    monkeypatch.setattr("mobilise.retention.scanned.drive_of", lambda *_: smb)
    batch = propose_scanned(session, RM1, settings, version, AS_OF)
    session.commit()
    odd = next(i for i in batch.items if i.raw_path == ODD)
    assert odd.outcome == ItemOutcome.SKIPPED.value
    assert odd.skip_reason is not None and "smb storage backend cannot address" in odd.skip_reason
    assert batch.skipped_files == 1
    disposal.approve_batch(session, RM2, batch.id, clock=CLOCK)
    disposal.execute_batch(session, RM2, batch.id, smb, clock=CLOCK)
    session.commit()
    assert _exists(home, ODD)  # never touched
    assert not _exists(home, b"Temp/ok.tmp")
    assert (batch.deleted_files, batch.skipped_files) == (2, 1)
    assert odd.path not in {r["path"] for r in disposal.certificate_rows(session, batch.id)}
