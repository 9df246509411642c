"""The endpoint inventory: mapped like the roster, all or nothing, matched to people."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilise.core.audit import AuditEntry
from mobilise.core.errors import ImportRejected
from mobilise.core.words import parse_size
from mobilise.endpoints.inventory import import_endpoints, parse_time
from mobilise.endpoints.models import Endpoint
from tests.factories import ADMIN, load_people

INTUNE = ("Device name,Primary user UPN,Last offline files sync,Cache size,Items pending\n"
          "LT-0001,alex0.smith@example.police.uk,2026-12-01T08:14:00Z,850 MB,0\n"
          "LT-0002,ALEX1.SMITH@example.police.uk,never,1.5 GiB,3\n"
          "KIOSK-01,kiosk@example.police.uk,2026-11-30 10:00,,\n")


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_an_intune_export_is_imported_and_matched_to_people(session: Session,
                                                             tmp_path: Path) -> None:
    load_people(session, tmp_path, count=3)
    result = import_endpoints(session, ADMIN, write(tmp_path, "intune.csv", INTUNE))
    session.commit()
    assert (result.added, result.updated, result.unmatched) == (3, 0, ["KIOSK-01"])
    rows = {e.device: e for e in session.scalars(select(Endpoint))}
    assert rows["LT-0001"].person is not None and rows["LT-0001"].person.number == "100000"
    assert rows["LT-0002"].person is not None and rows["LT-0002"].person.number == "100001"
    assert rows["LT-0002"].last_sync is None and rows["LT-0002"].pending_items == 3
    assert rows["LT-0002"].cache_bytes == 3 * 2**29
    assert rows["KIOSK-01"].person_id is None and rows["KIOSK-01"].pending_items == 0
    actions = list(session.scalars(select(AuditEntry.action)))
    assert actions.count("endpoint.add") == 3 and "endpoint.import" in actions


def test_configuration_manager_columns_mapped_and_reimport_updates(session: Session,
                                                                    tmp_path: Path) -> None:
    load_people(session, tmp_path, count=2)
    import_endpoints(session, ADMIN, write(tmp_path, "a.csv", INTUNE))
    sccm = ("Computer,User,LastSync,Pending\n"
            "LT-0001,FORCE\\asmith0,01/12/2026 18:30,0\n"
            "LT-0002,FORCE\\asmith1,02/12/2026 07:00,0\n")
    result = import_endpoints(session, ADMIN, write(tmp_path, "sccm.csv", sccm), mapping={
        "Computer": "device", "User": "primary_user", "LastSync": "last_sync",
        "Pending": "pending_items"})
    assert (result.added, result.updated) == (0, 2)
    lt2 = session.scalar(select(Endpoint).where(Endpoint.device == "LT-0002"))
    assert lt2 is not None and lt2.pending_items == 0
    assert lt2.last_sync is not None
    assert lt2.last_sync.replace(tzinfo=UTC) == datetime(2026, 12, 2, 7, 0, tzinfo=UTC)


def test_a_bad_file_changes_nothing_and_names_every_problem(session: Session,
                                                            tmp_path: Path) -> None:
    load_people(session, tmp_path, count=1)
    bad = ("Device name,Primary user,Last sync,Items pending\n"
           "LT-1,alex0.smith@example.police.uk,yesterday,0\n"
           "LT-2,alex0.smith@example.police.uk,2026-12-01,-4\n"
           "LT-1,alex0.smith@example.police.uk,2026-12-01,0\n")
    with pytest.raises(ImportRejected) as caught:
        import_endpoints(session, ADMIN, write(tmp_path, "bad.csv", bad))
    text = str(caught.value)
    assert "bad.csv:2:3" in text and "is not a date and time" in text
    assert "bad.csv:3:4" in text and "cannot be negative" in text
    assert "bad.csv:4:1" in text and "duplicate device" in text
    session.rollback()
    assert session.scalars(select(Endpoint)).all() == []


def test_parsers() -> None:
    assert parse_size("1,024") == 1024 and parse_size("2 KB") == 2000
    assert parse_time("Never") is None
    assert parse_time("2026-12-01T08:14:00+01:00") == datetime(2026, 12, 1, 7, 14, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_size("lots")
