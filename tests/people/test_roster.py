from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import Text, func, select
from sqlalchemy.orm import Session

from mobilise.core.audit import AuditEntry
from mobilise.core.errors import ImportRejected
from mobilise.people import roster
from mobilise.people.models import Person
from tests.factories import ADMIN, ROSTER_HEADER, load_people, load_structure, person_row, write_csv


def _counts(session: Session) -> tuple[int, int]:
    return (session.scalar(select(func.count()).select_from(Person)) or 0,
            session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


def test_duplicate_number_and_bad_upn_rejected_with_both(session: Session, tmp_path: Path) -> None:
    load_people(session, tmp_path, count=3)
    before = _counts(session)
    rows = [person_row(i) for i in range(6)]
    rows[3] = person_row(3, number="100001")          # line 5: duplicates line 3's number
    rows[4] = person_row(4, upn="not-an-upn")          # line 6: malformed UPN
    path = write_csv(tmp_path / "bad.csv", ROSTER_HEADER, rows)
    with pytest.raises(ImportRejected) as err:
        roster.import_roster(session, ADMIN, path)
    problems = [str(p) for p in err.value.problems]
    assert f"{path}:5:1: duplicate number '100001' (also on line 3)" in problems
    assert f"{path}:6:4: upn: 'not-an-upn' is not a valid UPN" in problems
    session.rollback()
    assert _counts(session) == before


def test_unknown_unit_and_wrong_encoding(session: Session, tmp_path: Path) -> None:
    load_structure(session, tmp_path)
    path = write_csv(tmp_path / "r.csv", ROSTER_HEADER, [person_row(1, unit="ZZ")])
    with pytest.raises(ImportRejected, match=r"r.csv:2:8: unknown org unit 'ZZ'"):
        roster.import_roster(session, ADMIN, path)
    latin = tmp_path / "latin.csv"
    text = ",".join(ROSTER_HEADER) + "\n" + ",".join(map(str, person_row(1))) + "\n"
    latin.write_bytes(text.encode() + "200001,Zoë,Brown".encode("latin-1"))
    with pytest.raises(ImportRejected, match=r"latin.csv:3:10: byte 0xeb is not valid UTF-8"):
        roster.import_roster(session, ADMIN, latin)


def test_missing_column_is_reported(session: Session, tmp_path: Path) -> None:
    load_structure(session, tmp_path)
    path = write_csv(tmp_path / "r.csv", ["number", "first_name"], [["123456", "A"]])
    with pytest.raises(ImportRejected, match="missing column 'upn'"):
        roster.import_roster(session, ADMIN, path)


def test_reimport_marks_missing_people_leavers(session: Session, tmp_path: Path) -> None:
    load_people(session, tmp_path, count=5)
    rows = [person_row(i) for i in range(5) if i != 2]
    rows[0] = person_row(0, rank="Sergeant")
    rows.append(person_row(9))
    path = write_csv(tmp_path / "next.csv", ROSTER_HEADER, rows)
    # One leaver of five is 20%, over the mass-leaver guard's 5%: confirmed here.
    diff = roster.import_roster(session, ADMIN, path, allow_mass_leavers=True)
    session.commit()
    assert diff.summary() == {"added": 1, "changed": 1, "leavers": 1, "unchanged": 3}
    gone = session.scalars(select(Person).where(Person.number == "100002")).one()
    assert gone.status == "leaver" and gone.left_on is not None
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "person.leave")).one()
    assert entry.entity_id == str(gone.id)
    assert entry.before["status"] == "active" and entry.after["status"] == "leaver"
    assert session.scalar(select(func.count()).select_from(Person)) == 6


def test_dry_run_changes_nothing(session: Session, tmp_path: Path) -> None:
    load_people(session, tmp_path, count=3)
    before = _counts(session)
    path = write_csv(tmp_path / "next.csv", ROSTER_HEADER, [person_row(0), person_row(7)])
    diff = roster.import_roster(session, ADMIN, path, dry_run=True)
    session.commit()
    assert diff.summary() == {"added": 1, "changed": 0, "leavers": 2, "unchanged": 1}
    assert _counts(session) == before


def test_xlsx_roster_with_column_mapping(session: Session, tmp_path: Path) -> None:
    load_structure(session, tmp_path)
    book = Workbook()
    sheet = book.active
    header = ["Warrant No"] + ROSTER_HEADER[1:]
    sheet.append(header)
    sheet.append([int(person_row(1)[0])] + person_row(1)[1:])
    sheet.append(person_row(2)[:3] + ["bad upn"] + person_row(2)[4:])
    path = tmp_path / "roster.xlsx"
    book.save(path)
    with pytest.raises(ImportRejected, match=r"roster.xlsx:3:4: upn"):
        roster.import_roster(session, ADMIN, path, mapping={"Warrant No": "number"})
    sheet.delete_rows(3)
    book.save(path)
    diff = roster.import_roster(session, ADMIN, path, mapping={"Warrant No": "number"})
    assert diff.added == ["100001"]


def test_upn_taken_by_someone_outside_the_roster(session: Session, tmp_path: Path) -> None:
    load_people(session, tmp_path, count=2)
    path = write_csv(tmp_path / "r.csv", ROSTER_HEADER,
                     [person_row(0), person_row(5, upn="alex1.smith@example.police.uk")])
    with pytest.raises(ImportRejected, match="belongs to person 100001"):
        roster.import_roster(session, ADMIN, path)


def test_upns_rotated_among_three_people_and_given_to_a_newcomer(session: Session,
                                                                 tmp_path: Path) -> None:
    """A chain of moves: 0 takes 1's UPN, 1 takes 2's, 2 takes 0's, and a new person takes
    a UPN freed in the same roster. The unique index is checked per statement, so applied
    row by row in any order this collided with itself."""
    load_people(session, tmp_path, count=4)

    def upn(n: int) -> str:
        return f"alex{n}.smith@example.police.uk"

    rows = [person_row(0, upn=upn(1)), person_row(1, upn=upn(2)), person_row(2, upn="x@e.uk"),
            person_row(3, upn=upn(0)), person_row(7, upn=upn(3))]
    diff = roster.import_roster(session, ADMIN, write_csv(tmp_path / "r.csv", ROSTER_HEADER,
                                                          rows))
    session.commit()
    assert diff.added == ["100007"] and len(diff.changed) == 4
    held = dict(session.execute(select(Person.number, Person.upn)).tuples().all())
    assert held == {"100000": upn(1), "100001": upn(2), "100002": "x@e.uk",
                    "100003": upn(0), "100007": upn(3)}
    assert not session.scalar(select(func.count()).select_from(AuditEntry)
                              .where(AuditEntry.after.is_not(None))
                              .where(func.lower(func.cast(AuditEntry.after, Text))
                                     .contains("~moving~")))


def test_a_roster_names_each_persons_line_manager(session: Session, tmp_path: Path) -> None:
    load_structure(session, tmp_path)
    header = [*ROSTER_HEADER, "Line Manager"]
    rows = [person_row(0) + [""], person_row(1) + ["100000"], person_row(2) + ["100000"]]
    roster.import_roster(session, ADMIN, write_csv(tmp_path / "r.csv", header, rows))
    session.commit()
    managers = {n: m for n, m in session.execute(select(Person.number, Person.line_manager))}
    assert managers == {"100000": None, "100001": "100000", "100002": "100000"}
    # A change of manager is a change like any other, and a bad number is refused.
    rows[2][-1] = "100001"
    diff = roster.import_roster(session, ADMIN, write_csv(tmp_path / "r.csv", header, rows))
    assert diff.changed == {"100002": {"line_manager": ("100000", "100001")}}
    rows[1][-1] = "not a number!"
    with pytest.raises(ImportRejected, match="line manager"):
        roster.import_roster(session, ADMIN, write_csv(tmp_path / "r.csv", header, rows))
