"""Finding people by any part of a name, UPN or number: the same people on both databases
and by both ways of searching (every row, or SQLite's trigram table / PostgreSQL's trigram
indexes), kept current as the roster changes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from mobilise.core.db import session_factory
from mobilise.core.settings import Settings
from mobilise.people import roster
from mobilise.people.models import Person
from mobilise.people.register import PeopleQuery, _search, _search_table, find_people
from tests.factories import ADMIN, ROSTER_HEADER, load_structure, person_row, write_csv

NAMES = [("Zoë", "O'Brien"), ("Siân", "Evans"), ("Adam", "Saunders"), ("Ada", "Sanders"),
         ("Jo", 'Quote"d'), ("Li", "Wu"), ("Mary-Jane", "Smith-Jones"), ("ALEX", "SMITH")]

QUERIES = ["smith", "SMITH", "saunders", "sanders", "sa", "a", "ada", "100003", "1000", "3",
           "o'b", "zoë", "ZOË", "siân evans", "n eva", 'quote"d', '"', "mary-jane",
           "smith-jones@", "wu", "nobody at all", "ÀÉÎ", "%", "_"]


def _roster(tmp: Path, names: list[tuple[str, str]]) -> Path:
    rows = [person_row(n, first_name=first, last_name=last,
                       upn=f"p{n}.{_ascii(last)}@example.police.uk",
                       email=f"p{n}@example.police.uk")
            for n, (first, last) in enumerate(names)]
    return write_csv(tmp / "roster.csv", ROSTER_HEADER, rows)


def _ascii(name: str) -> str:
    return "".join(c for c in name.lower() if c.isascii() and (c.isalnum() or c == "-"))


def _expected(session: Session, q: str) -> list[str]:
    """What a search must find, worked out in Python from every row."""
    needle = q.strip().lower()
    found = []
    for p in session.scalars(select(Person)):
        fields = [p.number] if needle.isdigit() else [f"{p.first_name} {p.last_name}", p.upn,
                                                        p.number]
        if any(needle in f.lower() for f in fields):
            found.append(p.number)
    return sorted(found)


def _load(session: Session, tmp: Path) -> Session:
    load_structure(session, tmp)
    roster.import_roster(session, ADMIN, _roster(tmp, NAMES))
    session.commit()
    return session


@pytest.fixture
def people(session: Session, tmp_path: Path) -> Session:
    return _load(session, tmp_path)


@pytest.fixture
def sqlite_people(sqlite_settings: Settings, tmp_path: Path) -> Iterator[Session]:
    """SQLite alone: its trigram table is what is under test (PostgreSQL's trigram indexes
    are searched with the same ILIKE, see tests/core/test_migrations.py)."""
    session = session_factory(sqlite_settings)()
    try:
        yield _load(session, tmp_path)
    finally:
        session.close()


@pytest.mark.parametrize("q", QUERIES)
def test_a_search_finds_exactly_the_people_who_contain_it(people: Session, q: str) -> None:
    found, total = find_people(people, PeopleQuery(q=q, limit=500))
    assert sorted(p.number for p in found) == _expected(people, q)
    assert total == len(found)


@pytest.mark.parametrize("q", QUERIES)
def test_sqlite_finds_the_same_people_through_its_trigram_table(sqlite_people: Session,
                                                                q: str) -> None:
    people = sqlite_people
    assert _search_table(people)
    every_row = people.scalars(select(Person.number).where(_search(q, "sqlite"))).all()
    indexed = people.scalars(select(Person.number).where(_search(q, "sqlite", True))).all()
    assert sorted(indexed) == sorted(every_row) == _expected(people, q)


def test_the_search_table_follows_the_roster(people: Session, tmp_path: Path) -> None:
    renamed = [*NAMES[:2], ("Adam", "Fairweather"), *NAMES[3:], ("New", "Starter")]
    roster.import_roster(people, ADMIN, _roster(tmp_path, renamed))
    people.commit()
    for q, numbers in [("fairweather", ["100002"]), ("saunders", []),
                       ("new starter", [f"{100000 + len(NAMES)}"])]:
        found, _ = find_people(people, PeopleQuery(q=q))
        assert [p.number for p in found] == numbers, q


def test_sqlite_answers_a_search_from_its_trigram_table(sqlite_people: Session) -> None:
    people = sqlite_people
    statement = select(Person.id).where(_search("saunders", "sqlite", True)).compile(
        compile_kwargs={"literal_binds": True})
    plan = " ".join(str(row) for row in people.execute(text(f"EXPLAIN QUERY PLAN {statement}")))
    assert "person_search VIRTUAL TABLE INDEX" in plan, plan
