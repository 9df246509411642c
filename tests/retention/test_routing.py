"""Review routing: assignment and deadlines, reminders, escalation to the line manager or
the records pool, and the review load per wave (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mobilise.comms.models import OutboxMessage
from mobilise.core import audit
from mobilise.core.actor import Actor, Role
from mobilise.core.audit import AuditEntry
from mobilise.core.auth import User
from mobilise.core.clock import FixedClock
from mobilise.core.errors import TransitionRefused
from mobilise.core.settings import Settings
from mobilise.migration.review_load import cutover_dates, load_of, load_rows
from mobilise.migration.waves import WaveSelection, create_wave
from mobilise.people.models import Person
from mobilise.retention import review, rule_sets
from mobilise.retention.models import ReviewItem, RuleSetVersion
from mobilise.retention.routing import sweep
from tests.factories import register_people

from .estate import file_row, open_estate, person_row

RM = Actor("rm1", frozenset({Role.RECORDS}))
QUEUED = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
RULES = """\
rule_set: routed
version: 1
rules:
  - id: photos
    title: Personal photos
    authority: "Acceptable Use Policy"
    action: review
    select: {extension: jpg}
default:
  id: rest
  action: migrate
"""


def at(day: date) -> FixedClock:
    return FixedClock(datetime(day.year, day.month, day.day, 9, 0, tzinfo=UTC))


PEOPLE = ("p1", "p2", "p3")


def staff(session: Session) -> None:
    """p1 is managed by m1, p2 has no line manager, p3's line manager (m9) has left."""
    register_people(session, *PEOPLE, "m1", "m9")
    changes = {"p1": {"line_manager": "m1"}, "p3": {"line_manager": "m9"},
               "m9": {"status": "leaver"}}
    for person in session.scalars(select(Person).where(Person.number.in_(changes))):
        with audit.change(session, RM, "person.update", person):
            for key, value in changes[person.number].items():
                setattr(person, key, value)
    session.commit()


def queued(session: Session, *, cutovers: dict[str, date] | None = None,
           people: tuple[str, ...] = PEOPLE, registered: bool = False) -> RuleSetVersion:
    """p1 has two photos, p2 one, p3 one; each queued on 2 November with 14 days to
    decide."""
    if not registered:
        staff(session)
    rule_sets.add_rule_set(session, RM, RULES, clock=at(QUEUED.date()))
    version = rule_sets.activate(session, RM, "routed", 1, clock=at(QUEUED.date()))
    rows = [file_row("p1", "Pics/a.jpg"), file_row("p1", "Pics/b.jpg"),
            file_row("p2", "c.jpg"), file_row("p3", "d.jpg"), file_row("p1", "doc.docx")]
    estate = open_estate(rows, [person_row(p) for p in people])
    assert review.queue_reviews(session, RM, version, estate, QUEUED.date(),
                                clock=at(QUEUED.date()), review_days=14,
                                cutovers=cutovers) == 4
    session.commit()
    return version


def items(session: Session) -> dict[str, ReviewItem]:
    return {i.path: i for i in session.scalars(select(ReviewItem))}


def test_each_item_is_assigned_to_its_person_with_a_deadline(session: Session) -> None:
    queued(session, cutovers={"p2": date(2026, 11, 10)})
    got = items(session)
    assert {p: (i.assigned_to, i.due_on) for p, i in got.items()} == {
        "Pics/a.jpg": ("p1", date(2026, 11, 16)), "Pics/b.jpg": ("p1", date(2026, 11, 16)),
        "c.jpg": ("p2", date(2026, 11, 10)),  # the wave's cutover comes first
        "d.jpg": ("p3", date(2026, 11, 16)),
    }
    assert all(i.queued_at is not None for i in got.values())


def test_a_deadline_is_never_past_the_cutover_nor_before_queueing() -> None:
    assert review.deadline(date(2026, 11, 2), 14, None) == date(2026, 11, 16)
    assert review.deadline(date(2026, 11, 2), 14, date(2026, 11, 5)) == date(2026, 11, 5)
    assert review.deadline(date(2026, 11, 2), 14, date(2026, 12, 25)) == date(2026, 11, 16)
    assert review.deadline(date(2026, 11, 2), 14, date(2026, 10, 1)) == date(2026, 11, 2)


def test_the_reminder_is_queued_once_per_person_and_round(
    session: Session, settings: Settings,
) -> None:
    queued(session)
    assert sweep(session, RM, settings, clock=at(date(2026, 11, 12))).reminded == []
    first = sweep(session, RM, settings, clock=at(date(2026, 11, 13)))
    assert sorted(first.reminded) == ["p1", "p2", "p3"]
    session.commit()
    again = sweep(session, RM, settings, clock=at(date(2026, 11, 15)))
    assert again.reminded == [] and again.escalated == 0
    reminders = session.scalars(select(OutboxMessage).where(
        OutboxMessage.template == "review_reminder")).all()
    assert sorted(m.recipient for m in reminders) == [
        "p1@example.police.uk", "p2@example.police.uk", "p3@example.police.uk"]
    p1 = next(m for m in reminders if m.recipient.startswith("p1"))
    assert "2 file(s)" in p1.subject and "16 November 2026" in p1.subject


def test_a_lapsed_deadline_escalates_to_the_line_manager_or_the_records_pool(
    session: Session, settings: Settings,
) -> None:
    queued(session)
    assert sweep(session, RM, settings, clock=at(date(2026, 11, 16))).escalated == 0
    result = sweep(session, RM, settings, clock=at(date(2026, 11, 17)))
    session.commit()
    assert (result.escalated, result.to_managers, result.to_records) == (4, {"m1": 2}, 2)
    got = items(session)
    assert {p: (i.status, i.assigned_to, i.escalated_to) for p, i in got.items()} == {
        "Pics/a.jpg": ("escalated", "m1", "m1"), "Pics/b.jpg": ("escalated", "m1", "m1"),
        "c.jpg": ("escalated", None, "records"),  # no line manager
        "d.jpg": ("escalated", None, "records"),  # the line manager has left
    }
    audited = session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "review_item.escalate"))
    assert audited == 4
    notices = session.scalars(select(OutboxMessage).where(
        OutboxMessage.template == "review_escalated")).all()
    assert [m.recipient for m in notices] == ["m1@example.police.uk"]
    assert "p1 Test" in notices[0].subject
    # The next sweep finds nothing left to escalate; records managers see the pool.
    assert sweep(session, RM, settings, clock=at(date(2026, 11, 18))).escalated == 0
    assert review.list_items(session, status="escalated").total == 4
    assert {r["person"]: r["escalated"] for r in review.review_queue(session)} == {
        "p1": 2, "p2": 1, "p3": 1}


def test_escalation_is_refused_before_the_deadline(session: Session) -> None:
    queued(session)
    with pytest.raises(TransitionRefused, match="not overdue"):
        from mobilise.core.transitions import run_transition

        run_transition(session, RM, review.REVIEW, "escalate", list(items(session).values()),
                       reason="early", clock=at(date(2026, 11, 16)), to={})


def link(session: Session, number: str) -> Actor:
    """A login linked to the person (as the sign-in link would make it)."""
    person = session.scalars(select(Person).where(Person.number == number)).one()
    user = User(username=f"{number}-login", display_name=number, password_hash="x",
                roles=["viewer"],
                person_id=person.id)
    audit.create(session, RM, "user.add", user)
    session.flush()
    return Actor(f"{number}-login", frozenset({Role.VIEWER}), user_id=user.id)


def test_the_line_manager_sees_and_decides_what_was_escalated_to_them(
    session: Session, settings: Settings,
) -> None:
    queued(session)
    manager, other = link(session, "m1"), link(session, "p2")
    assert review.list_items(session, reviewer="m1").total == 0
    sweep(session, RM, settings, clock=at(date(2026, 11, 17)))
    session.commit()
    mine = review.list_items(session, reviewer="m1")
    assert sorted(i.path for i in mine.items) == ["Pics/a.jpg", "Pics/b.jpg"]
    assert review.pending_for(session, manager) == 2
    ids = [i.id for i in mine.items]
    with pytest.raises(TransitionRefused, match="line manager"):
        review.decide(session, other, ids, "keep-migrate", "not mine")
    done = review.decide(session, manager, ids, "keep-migrate", "work photos of a scene")
    assert {(i.status, i.decided_by) for i in done} == {("decided", "m1-login")}
    # p2's own item (in the records pool) is still theirs to decide.
    own = review.list_items(session, reviewer="p2").items
    assert review.decide(session, other, [own[0].id], "dispose", "personal")[0].decision \
        == "dispose"


def test_review_load_per_wave_counts_people_files_overdue_and_escalated(
    session: Session, settings: Settings,
) -> None:
    staff(session)
    register_people(session, "p4")
    wave = create_wave(session, RM, "W1", WaveSelection(people=["p1", "p2"]),
                       schedule=[None, None, datetime(2026, 11, 10, tzinfo=UTC)])
    create_wave(session, RM, "W2", WaveSelection(people=["p4"]))
    session.commit()
    assert cutover_dates(session) == {"p1": date(2026, 11, 10), "p2": date(2026, 11, 10)}
    queued(session, cutovers=cutover_dates(session), registered=True)
    assert {i.person: i.due_on for i in items(session).values()}["p1"] == date(2026, 11, 10)
    today = date(2026, 11, 11)
    assert load_of(session, wave.id, today=today) == {
        "people": 2, "files": 3, "bytes": 300, "overdue": 3, "escalated": 0}
    sweep(session, RM, settings, clock=at(today))
    session.commit()
    assert load_of(session, wave.id, today=today) == {
        "people": 2, "files": 3, "bytes": 300, "overdue": 0, "escalated": 3}
    decided = [i.id for i in items(session).values() if i.person == "p2"]
    review.decide(session, RM, decided, "keep-archive", "records team")
    session.commit()
    rows = {r["wave"]: r for r in load_rows(session, today=today)}
    assert rows["W1"]["files"] == 2 and rows["W1"]["people"] == 1
    assert rows["W2"] == {"wave": "W2", "people": 0, "files": 0, "bytes": 0, "overdue": 0,
                          "escalated": 0}


def test_two_sweeps_escalate_each_item_once(session: Session, settings: Settings) -> None:
    queued(session)
    day = date(2026, 11, 17)
    first = sweep(session, RM, settings, clock=at(day))
    session.commit()
    second = sweep(session, RM, settings, clock=at(day + timedelta(days=1)))
    assert (first.escalated, second.escalated) == (4, 0)


FLOORED = """\
rule_set: floored
version: 1
floors:
  - class: police-information
    minimum: 6y
    authority: "MoPI: 6-year minimum"
rules:
  - id: statements
    title: Witness statements
    authority: "MoPI"
    class: police-information
    action: review
    period: 0d
    select: {name: ["*statement*"]}
"""


def test_a_dispose_decision_waits_for_the_floor_of_the_class(session: Session) -> None:
    register_people(session, "p1")
    rule_sets.add_rule_set(session, RM, FLOORED, clock=at(QUEUED.date()))
    version = rule_sets.activate(session, RM, "floored", 1, clock=at(QUEUED.date()))
    rows = [file_row("p1", "old statement.docx", modified=datetime(2019, 1, 1)),
            file_row("p1", "new statement.docx", modified=datetime(2024, 1, 1))]
    review.queue_reviews(session, RM, version, open_estate(rows, [person_row("p1")]),
                         QUEUED.date(), clock=at(QUEUED.date()))
    session.commit()
    got = items(session)
    with pytest.raises(TransitionRefused, match=r"cannot be disposed of before 2030-01-01 "
                                                r"\(floor 6y: MoPI: 6-year minimum\)"):
        review.decide(session, RM, [got["new statement.docx"].id], "dispose", "done with",
                      clock=at(QUEUED.date()))
    session.rollback()
    kept = review.decide(session, RM, [got["new statement.docx"].id], "keep-archive",
                         "still within MoPI", clock=at(QUEUED.date()))
    gone = review.decide(session, RM, [got["old statement.docx"].id], "dispose",
                         "past MoPI, not needed", clock=at(QUEUED.date()))
    assert (kept[0].decision, gone[0].decision) == ("keep-archive", "dispose")
