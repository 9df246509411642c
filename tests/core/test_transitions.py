from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mobilise.core.audit import AuditEntry
from mobilise.core.errors import InvalidInput, TransitionRefused
from mobilise.core.transitions import Lifecycle, Transition, run_transition
from mobilise.people.models import Person
from tests.factories import ADMIN, load_people

# A small lifecycle over people's status, to exercise the mechanism itself.
LIFECYCLE: Lifecycle[Person] = Lifecycle(
    entity="person",
    state_attr="status",
    transitions=[
        Transition("leave", frozenset({"active"}), "leaver", needs_reason=True),
        Transition("rejoin", frozenset({"leaver"}), "active",
                   guards=(lambda ctx, p: None if p.eligible else "not eligible",)),
    ],
)


def test_bulk_transition_audits_each(session: Session, tmp_path: Path) -> None:
    load_people(session, tmp_path, count=3)
    people = session.scalars(select(Person)).all()
    run_transition(session, ADMIN, LIFECYCLE, "leave", people, reason="left the force")
    session.commit()
    assert {p.status for p in people} == {"leaver"}
    rows = session.scalars(select(AuditEntry).where(AuditEntry.action == "person.leave")).all()
    assert len(rows) == 3
    assert all(r.before["status"] == "active" and r.after["status"] == "leaver" for r in rows)
    assert all(r.reason == "left the force" for r in rows)


def test_refused_bulk_changes_nothing(session: Session, tmp_path: Path) -> None:
    load_people(session, tmp_path, count=3)
    people = session.scalars(select(Person).order_by(Person.id)).all()
    run_transition(session, ADMIN, LIFECYCLE, "leave", people[:1], reason="left")
    session.commit()
    entries = session.scalar(select(func.count()).select_from(AuditEntry))
    with pytest.raises(TransitionRefused) as err:
        run_transition(session, ADMIN, LIFECYCLE, "leave", people, reason="again")
    assert "cannot leave from leaver" in err.value.message
    session.rollback()
    assert [p.status for p in session.scalars(select(Person).order_by(Person.id))] == [
        "leaver", "active", "active"]
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == entries


def test_guard_and_reason_are_enforced(session: Session, tmp_path: Path) -> None:
    load_people(session, tmp_path, count=1)
    person = session.scalars(select(Person)).one()
    with pytest.raises(TransitionRefused, match="needs a reason"):
        run_transition(session, ADMIN, LIFECYCLE, "leave", [person])
    with pytest.raises(InvalidInput, match="no person transition 'promote'"):
        run_transition(session, ADMIN, LIFECYCLE, "promote", [person])
