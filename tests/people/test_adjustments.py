"""Requests to change one's reasonable adjustments: recorded, one open at a time, settled
by the desk (changing the register's record or not), each step audited."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilise.core.actor import Actor
from mobilise.core.audit import AuditEntry
from mobilise.core.errors import Conflict, InvalidInput, NotFound
from mobilise.people import adjustments
from mobilise.people.models import Person
from tests.devices.fleet import clock
from tests.factories import load_people

ME = Actor("me")
DESK = Actor("desk")


def test_request_and_settle(session: Session, tmp_path: Path) -> None:
    load_people(session, tmp_path, count=2)
    me = session.scalars(select(Person).where(Person.number == "100001")).one()
    with pytest.raises(InvalidInput):
        adjustments.request_change(session, ME, clock(), me, "   ")
    first = adjustments.request_change(session, ME, clock(), me, "Step-free site")
    with pytest.raises(Conflict, match="already have"):
        adjustments.request_change(session, ME, clock(), me, "and a chair")
    assert [r.id for r in adjustments.open_requests(session)] == [first.id]
    adjustments.settle(session, DESK, clock(), first.id, adjustments="Step-free site")
    assert me.adjustments == "Step-free site" and first.settled_by == "desk"
    with pytest.raises(Conflict, match="already settled"):
        adjustments.settle(session, DESK, clock(), first.id)
    second = adjustments.request_change(session, ME, clock(), me, "Large print")
    assert second.recorded == "Step-free site"
    adjustments.settle(session, DESK, clock(), second.id)  # the record stays as it is
    assert me.adjustments == "Step-free site"
    with pytest.raises(NotFound):
        adjustments.settle(session, DESK, clock(), 999_999)
    session.flush()
    actions = list(session.scalars(select(AuditEntry.action).where(
        AuditEntry.action.like("adjustments.%") | (AuditEntry.action == "person.adjustments"))
        .order_by(AuditEntry.seq)))
    assert actions == ["adjustments.request", "adjustments.settle", "person.adjustments",
                       "adjustments.request", "adjustments.settle"]
