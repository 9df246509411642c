"""One truth between the rollout and the handset register (tracker #18): a hand-over at
the desk attends the person's open appointment with the handset on it, in the same
transaction; nothing is attended without a hand-over; reminders skip people who hold a
handset; progress counts the register; the confirmation names the handset."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from mobilise.cli import context
from mobilise.cli.main import app
from mobilise.comms import templates
from mobilise.comms.models import OutboxMessage
from mobilise.core import audit
from mobilise.core.clock import FixedClock
from mobilise.core.errors import MobiliseError, TransitionRefused
from mobilise.core.settings import Settings
from mobilise.devices import handsets
from mobilise.devices.models import Handset, HandsetStatus
from mobilise.people.models import Person, Site
from mobilise.rollout import appointments as appts
from mobilise.rollout import reports
from mobilise.rollout.models import Appointment, AppointmentStatus
from mobilise.rollout.notices import Notice, queue_notices
from mobilise.rollout.planning import PlanOptions, RolloutRecords, replan
from tests.factories import ADMIN, load_people
from tests.rollout.desk import hand, shelf

DAY = date(2023, 1, 10)
CLOCK = FixedClock(datetime(2023, 1, 9, 8, tzinfo=UTC))


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """The real command line on the test's database (SQLite or PostgreSQL)."""
    monkeypatch.setenv("MOBILISE_DATABASE_URL", settings.database_url)
    context.settings.cache_clear()
    yield CliRunner()
    context.settings.cache_clear()


def run(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return result.output


def person(session: Session, number: str) -> Person:
    found = session.scalar(select(Person).where(Person.number == number))
    assert found is not None
    return found


def book(session: Session, number: str, day: date = DAY) -> Appointment:
    site = session.scalar(select(Site).where(Site.code == "CE-01"))
    assert site is not None
    appts.open_places(session, site.id, [day], capacity=10)
    return appts.book(session, ADMIN, person(session, number).id, site.id, day)


def test_devices_issue_attends_the_open_appointment_with_the_handset(
        session: Session, settings: Settings, tmp_path: Path, cli: CliRunner) -> None:
    load_people(session, tmp_path, count=3)
    phone, other = shelf(session, settings, tmp_path, 2)
    booked = book(session, "100001")
    waiting = book(session, "100002")
    session.commit()
    out = run(cli, "devices", "issue", phone.imei, "100001", "--method", "signature")
    assert f"appointment {booked.id} attended" in out
    session.expire_all()
    assert booked.status == AppointmentStatus.ATTENDED.value
    assert booked.handset_id == phone.id
    entries = [e.action for e in session.scalars(select(audit.AuditEntry)
                                                 .order_by(audit.AuditEntry.seq))]
    assert entries.index("handset.issue") < entries.index("appointment.attend")
    # A refused hand-over (the phone is already out) changes nothing: the other person's
    # appointment is still booked and the phone still theirs.
    with pytest.raises(TransitionRefused):
        run(cli, "devices", "issue", phone.imei, "100002", "--method", "signature")
    session.expire_all()
    assert waiting.status == AppointmentStatus.BOOKED.value and waiting.handset_id is None
    assert other.status == HandsetStatus.IN_STOCK.value
    listed = run(cli, "rollout", "appointments", "--format", "csv")
    assert phone.imei in listed


def test_attended_only_with_a_hand_over_or_as_not_issued_with_a_reason(
        session: Session, settings: Settings, tmp_path: Path, cli: CliRunner) -> None:
    load_people(session, tmp_path, count=3)
    came = book(session, "100000")
    empty_handed = book(session, "100001")
    session.commit()
    with pytest.raises(TransitionRefused, match="no handset is issued"):
        run(cli, "rollout", "attend", str(came.id))
    with pytest.raises(MobiliseError):
        appts.transition(session, ADMIN, "attend_not_issued", [empty_handed])
    session.rollback()
    run(cli, "rollout", "not-issued", str(empty_handed.id), "--reason", "no stock at CE-01")
    session.expire_all()
    assert came.status == AppointmentStatus.BOOKED.value
    assert empty_handed.status == AppointmentStatus.NOT_ISSUED.value
    assert AppointmentStatus.NOT_ISSUED.label == "attended, not issued"
    # Attended, not issued: still without a handset, so the next re-plan books them again.
    options = PlanOptions(start=date(2023, 1, 11), deadline=date(2023, 1, 31),
                          staging_per_day=10, priority=(), default_slots=5)
    replan(session, ADMIN, RolloutRecords(staged=5), options, CLOCK)
    again = appts.live_appointment(session, empty_handed.person_id)
    assert again is not None and again.day >= date(2023, 1, 11)


def test_reminders_skip_people_who_already_hold_a_handset(
        session: Session, settings: Settings, tmp_path: Path) -> None:
    load_people(session, tmp_path, count=3)
    templates.ensure_defaults(session, ADMIN)
    phones = shelf(session, settings, tmp_path, 2)
    at_desk, elsewhere, waiting = (book(session, n) for n in ("100000", "100001", "100002"))
    hand(session, settings, phones[0], at_desk.person_id, date(2023, 1, 9))
    # Recorded in the register without the desk (a bulk hand-over, an older record): the
    # appointment is still booked, but the person holds a phone.
    handsets.issue_handset(session, ADMIN, settings, CLOCK, phones[1],
                           person(session, "100001"), method="paper")
    assert elsewhere.status == AppointmentStatus.BOOKED.value
    assert queue_notices(session, settings, Notice.REMINDER, CLOCK, days_ahead=2) == 1
    assert queue_notices(session, settings, Notice.INVITATION, CLOCK) == 1
    recipients = set(session.scalars(select(OutboxMessage.person_id)))
    assert recipients == {waiting.person_id}


def test_progress_counts_the_register_not_attended_appointments(
        session: Session, settings: Settings, tmp_path: Path) -> None:
    load_people(session, tmp_path, count=4)
    phones = shelf(session, settings, tmp_path, 2)
    legacy = book(session, "100000")
    # An appointment marked attended with no hand-over behind it (as the old code allowed).
    with audit.change(session, ADMIN, "appointment.attend", legacy):
        legacy.status = AppointmentStatus.ATTENDED.value
    hand(session, settings, phones[0], person(session, "100001").id, date(2023, 1, 4))
    hand(session, settings, phones[1], person(session, "100002").id, date(2023, 1, 11))
    session.flush()
    records = RolloutRecords()
    assert records.people_with_handset(session) == {person(session, "100001").id,
                                                    person(session, "100002").id}
    fc = reports.forecast(session, records, settings,
                          FixedClock(datetime(2023, 1, 16, 9, tzinfo=UTC)))
    assert (fc.total, fc.issued, fc.remaining) == (4, 2, 2)
    actual = {w["week"]: w["actual"] for w in fc.weeks if w["actual"] is not None}
    assert actual == {date(2023, 1, 2): 1, date(2023, 1, 9): 2, date(2023, 1, 16): 2}
    assert reports.handed_over_by_day(session) == [(date(2023, 1, 4), 1),
                                                   (date(2023, 1, 11), 1)]
    [unit] = reports.by_org_unit(session, records)
    assert unit["issued"] == 2 and unit["remaining"] == 2


def test_the_hand_over_confirmation_names_the_handset(
        session: Session, settings: Settings, tmp_path: Path) -> None:
    load_people(session, tmp_path, count=2)
    templates.ensure_defaults(session, ADMIN)
    phone = shelf(session, settings, tmp_path, 1)[0]
    assert phone.sim is not None
    with audit.change(session, ADMIN, "sim.number", phone.sim):
        phone.sim.msisdn = "447700900123"
    booked = book(session, "100001")
    hand(session, settings, phone, booked.person_id, DAY)
    assert queue_notices(session, settings, Notice.HANDOVER, CLOCK) == 1
    sent = session.scalars(select(OutboxMessage)).one()
    assert sent.template == "handover" and sent.person_id == booked.person_id
    assert f"IMEI {phone.imei}" in sent.body
    assert "Samsung Galaxy A32" in sent.body
    assert "phone number 447700900123" in sent.body


def test_a_bulk_hand_over_attends_every_open_appointment(
        session: Session, settings: Settings, tmp_path: Path) -> None:
    from mobilise.rollout.handover import hand_over_many

    load_people(session, tmp_path, count=3)
    phones = shelf(session, settings, tmp_path, 2)
    booked = [book(session, n) for n in ("100000", "100001")]
    people = [person(session, n) for n in ("100000", "100001")]
    closed = hand_over_many(session, ADMIN, settings, CLOCK, list(zip(phones, people,
                                                                       strict=True)),
                            method="paper")
    assert {a.id for a in closed} == {a.id for a in booked}
    assert {(a.status, a.handset_id) for a in booked} == {
        (AppointmentStatus.ATTENDED.value, phones[0].id),
        (AppointmentStatus.ATTENDED.value, phones[1].id)}
    assert session.scalar(select(Handset.holder_id).where(Handset.id == phones[0].id)) \
        == people[0].id


def test_an_early_hand_over_gives_the_appointment_place_back(
        session: Session, settings: Settings, tmp_path: Path) -> None:
    from mobilise.rollout.models import IssueSlot

    load_people(session, tmp_path, count=3)
    [phone, other] = shelf(session, settings, tmp_path, 2)
    later = book(session, "100001", DAY)  # booked for the 10th
    today = book(session, "100002", DAY - timedelta(days=1))
    session.commit()

    def booked(day: date) -> int:
        slot = session.scalar(select(IssueSlot).where(IssueSlot.day == day))
        assert slot is not None
        session.refresh(slot)
        return slot.booked

    assert (booked(DAY), booked(DAY - timedelta(days=1))) == (1, 1)
    # Handed over on the 9th, a day early: the 10th's place is free for someone else.
    hand(session, settings, phone, later.person_id, DAY - timedelta(days=1))
    # Handed over on the appointment's own day: the place was used, it stays taken.
    hand(session, settings, other, today.person_id, DAY - timedelta(days=1))
    session.commit()
    assert later.status == today.status == AppointmentStatus.ATTENDED.value
    assert (booked(DAY), booked(DAY - timedelta(days=1))) == (0, 1)
