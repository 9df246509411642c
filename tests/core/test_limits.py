"""Column limits come from the schema, and no write can pass them (tracker #17)."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilise.core import audit
from mobilise.core.errors import InvalidInput
from mobilise.core.limits import column_length, column_lengths
from mobilise.people.models import OrgUnit, Person
from mobilise.retention import holds
from mobilise.retention.models import Hold
from tests.factories import ADMIN, register_people


def test_lengths_are_read_from_the_schema() -> None:
    assert column_length(Person.first_name) == 100
    assert column_length(Person.adjustments) is None  # Text
    assert column_lengths(OrgUnit) == {"code": 30, "name": 200, "kind": 20}


def test_a_write_longer_than_its_column_is_refused_on_every_database(session: Session) -> None:
    register_people(session, "p1")
    with pytest.raises(InvalidInput, match=r"retention_hold.reference: 5,000 characters; "
                                           r"at most 100"):
        holds.place_hold(session, ADMIN, "R" * 5000, "foi", "request", people=["p1"])
    session.rollback()
    assert session.scalar(select(Hold)) is None
    person = session.scalars(select(Person)).one()
    with audit.change(session, ADMIN, "person.update", person):
        person.first_name = "A" * 101
    with pytest.raises(InvalidInput, match=r"person.first_name: 101 characters; at most 100"):
        session.flush()
    session.rollback()
    holds.place_hold(session, ADMIN, "R" * 100, "foi", "request", people=["p1"])
    session.commit()
