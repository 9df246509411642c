"""Hostile or dirty rosters (tracker #17): drive paths that climb out of the share, a
stale XLSX dimension, truncated files that would make everyone leavers, values longer
than their columns. Each is refused with file:line:column and changes nothing."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mobilise.core.audit import AuditEntry
from mobilise.core.errors import ImportRejected, InvalidInput
from mobilise.people import roster
from mobilise.people.models import Person
from mobilise.people.register import PeopleQuery, find_people, get_person
from tests.factories import ADMIN, ROSTER_HEADER, load_people, load_structure, person_row, write_csv

HEADER = [*ROSTER_HEADER, "home_directory"]


def _row(n: int, home: str = "", **over: object) -> list[object]:
    return [*person_row(n, **over), home]


def _counts(session: Session) -> tuple[int, int]:
    return (session.scalar(select(func.count()).select_from(Person)) or 0,
            session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


@pytest.mark.parametrize(("column", "value", "problem"), [
    ("home_directory", "\\\\server\\home$\\..", "has no '.' or '..' step"),
    ("home_directory", "\\\\server\\home$\\asmith\\..\\bjones", "has no '.' or '..' step"),
    ("home_directory", "/mnt/home/./asmith/../..", "has no '.' or '..' step"),
    ("home_directory", "\\\\server\\home$", "is not a folder on a share"),
    ("home_directory", "home/asmith", "is not a UNC path"),
    ("sam_account_name", "..", "is not a valid sAMAccountName"),
    ("sam_account_name", ".", "is not a valid sAMAccountName"),
    ("sam_account_name", "a\\b", "is not a valid sAMAccountName"),
])
def test_paths_out_of_the_share_are_refused(session: Session, tmp_path: Path, column: str,
                                           value: str, problem: str) -> None:
    load_people(session, tmp_path, count=3)
    before = _counts(session)
    rows = [_row(i, f"\\\\server\\home$\\asmith{i}") for i in range(3)]
    index = HEADER.index(column)
    rows[1][index] = value
    path = write_csv(tmp_path / "r.csv", HEADER, rows)
    with pytest.raises(ImportRejected) as err:
        roster.import_roster(session, ADMIN, path)
    [found] = err.value.problems
    assert (found.line, found.column) == (3, index + 1)
    assert problem in found.message
    session.rollback()
    assert _counts(session) == before


def test_good_home_directories_import(session: Session, tmp_path: Path) -> None:
    load_structure(session, tmp_path)
    path = write_csv(tmp_path / "r.csv", HEADER, [
        _row(0, "\\\\isilon.example.police.uk\\home$\\asmith0"), _row(1, "/mnt/home/asmith1"),
        _row(2, "")])
    assert len(roster.import_roster(session, ADMIN, path).added) == 3


def test_values_longer_than_their_columns_are_refused(session: Session, tmp_path: Path) -> None:
    load_people(session, tmp_path, count=3)
    before = _counts(session)
    rows = [_row(i) for i in range(3)]
    rows[0][HEADER.index("first_name")] = "A" * 5000
    rows[2][HEADER.index("rank")] = "R" * 61
    path = write_csv(tmp_path / "r.csv", HEADER, rows)
    with pytest.raises(ImportRejected) as err:
        roster.import_roster(session, ADMIN, path)
    assert [str(p) for p in err.value.problems] == [
        f"{path}:2:2: first_name: 5,000 characters; at most 100",
        f"{path}:4:7: rank: 61 characters; at most 60",
    ]
    session.rollback()
    assert _counts(session) == before
    rows[0][HEADER.index("first_name")] = "A" * 100  # exactly the column's length is fine
    rows[2][HEADER.index("rank")] = "R" * 60
    roster.import_roster(session, ADMIN, write_csv(tmp_path / "ok.csv", HEADER, rows))
    session.commit()
    assert session.scalar(select(Person.first_name).where(Person.number == "100000")) \
        == "A" * 100


def _stale_dimension_xlsx(path: Path, rows: list[list[object]]) -> Path:
    """An XLSX like those other tools write: its <dimension> still says A1:P11."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(ROSTER_HEADER)
    for row in rows:
        sheet.append(row)
    fresh = path.with_suffix(".fresh.xlsx")
    book.save(fresh)
    with zipfile.ZipFile(fresh) as src, zipfile.ZipFile(path, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                text, count = re.subn(r'<dimension ref="[^"]*" ?/>', '<dimension ref="A1:P11"/>',
                                      data.decode())
                assert count == 1
                data = text.encode()
            dst.writestr(item, data)
    return path


def test_stale_xlsx_dimension_reads_every_row(session: Session, tmp_path: Path) -> None:
    load_people(session, tmp_path, count=212)
    path = _stale_dimension_xlsx(tmp_path / "roster.xlsx",
                                 [person_row(i) for i in range(213)])
    diff = roster.import_roster(session, ADMIN, path, dry_run=True)
    assert diff.summary() == {"added": 1, "changed": 0, "leavers": 0, "unchanged": 212}


def test_mass_leavers_need_confirmation(session: Session, tmp_path: Path) -> None:
    load_people(session, tmp_path, count=40)
    before = _counts(session)
    most = write_csv(tmp_path / "most.csv", ROSTER_HEADER, [person_row(i) for i in range(37)])
    with pytest.raises(InvalidInput, match=r"make 3 of the 40 active people leavers "
                                           r"\(more than 5%\).*--allow-mass-leavers"):
        roster.import_roster(session, ADMIN, most)
    session.rollback()
    assert _counts(session) == before
    # The share is a setting; the dry run shows the difference without the confirmation.
    assert roster.import_roster(session, ADMIN, most, max_leaver_share=0.1).summary()[
        "leavers"] == 3
    session.rollback()
    assert roster.import_roster(session, ADMIN, most, dry_run=True).summary()["leavers"] == 3
    session.rollback()
    assert _counts(session) == before
    diff = roster.import_roster(session, ADMIN, most, allow_mass_leavers=True)
    session.commit()
    assert len(diff.leavers) == 3
    # 2 of the remaining 37 (5.4%) is too many; 1 (2.7%) is not.
    roster.import_roster(session, ADMIN, write_csv(
        tmp_path / "one.csv", ROSTER_HEADER, [person_row(i) for i in range(36)]))


def test_a_file_with_under_a_tenth_of_the_register_needs_confirmation(
        session: Session, tmp_path: Path) -> None:
    load_people(session, tmp_path, count=40)
    before = _counts(session)
    tiny = write_csv(tmp_path / "tiny.csv", ROSTER_HEADER,
                     [person_row(i) for i in range(3)])
    with pytest.raises(InvalidInput, match="it has 3 rows for a register of 40 active people"):
        roster.import_roster(session, ADMIN, tiny, max_leaver_share=1.0)
    session.rollback()
    assert _counts(session) == before


@pytest.mark.parametrize("q", ["Ow\x00en", "\x00", "alex\x1b[2J"])
def test_a_search_with_a_control_character_is_refused(session: Session, tmp_path: Path,
                                                      q: str) -> None:
    load_people(session, tmp_path, count=3)
    with pytest.raises(InvalidInput, match="control character"):
        find_people(session, PeopleQuery(q=q))
    with pytest.raises(InvalidInput, match="control character"):
        get_person(session, "10000\x001")
