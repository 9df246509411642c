"""Small builders for test data, through the same domain functions users call."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from mobilise.core.actor import Actor, Role
from mobilise.people import roster

ADMIN = Actor("test-admin", frozenset({Role.ADMIN}))

ROSTER_HEADER = ["number", "first_name", "last_name", "upn", "email", "kind", "rank",
                 "org_unit", "site", "status", "eligible", "sam_account_name"]


def write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def person_row(n: int, unit: str = "CE", **over: Any) -> list[Any]:
    values = {"number": f"{100000 + n}", "first_name": f"Alex{n}", "last_name": "Smith",
              "upn": f"alex{n}.smith@example.police.uk",
              "email": f"alex{n}.smith@example.police.uk",
              "kind": "officer", "rank": "Police Constable", "org_unit": unit, "site": "",
              "status": "active", "eligible": "yes", "sam_account_name": f"asmith{n}"}
    values.update(over)
    return [values[h] for h in ROSTER_HEADER]


def load_structure(session: Session, tmp: Path) -> None:
    units = write_csv(tmp / "units.csv", ["code", "name", "kind"],
                      [["CE", "Central East", "bcu"], ["NW", "North West", "bcu"],
                       ["HR", "People and Training", "department"]])
    sites = write_csv(tmp / "sites.csv", ["code", "name", "org_unit", "accessible", "issuing"],
                      [["CE-01", "Central East 1", "CE", "yes", "yes"]])
    roster.import_units(session, ADMIN, units)
    roster.import_sites(session, ADMIN, sites)
    session.commit()


def load_people(session: Session, tmp: Path, count: int = 5) -> Path:
    load_structure(session, tmp)
    path = write_csv(tmp / "roster.csv", ROSTER_HEADER, [person_row(i) for i in range(count)])
    roster.import_roster(session, ADMIN, path, allow_mass_leavers=True)
    session.commit()
    return path


def register_people(session: Session, *numbers: str) -> None:
    """People in the register under exactly these numbers (keys the retention tests use,
    such as 'p1', which the roster's number pattern would not take)."""
    from sqlalchemy import select

    from mobilise.core import audit
    from mobilise.people.models import OrgUnit, Person

    unit = session.scalar(select(OrgUnit).where(OrgUnit.code == "RT"))
    if unit is None:
        unit = audit.create(session, ADMIN, "org_unit.add",
                            OrgUnit(code="RT", name="Retention tests", kind="department"))
        session.flush()
    for number in numbers:
        audit.create(session, ADMIN, "person.add", Person(
            number=number, kind="staff", first_name=number, last_name="Test",
            upn=f"{number}@example.police.uk", email=f"{number}@example.police.uk",
            org_unit_id=unit.id, status="active", eligible=True))
    session.commit()
