"""Invitations with calendar attachments (delivered through a real SMTP server), the
forecast from the recent rate, and the risk flags."""

from __future__ import annotations

from datetime import UTC, date, datetime
from email import message_from_bytes
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilise.comms import outbox, templates
from mobilise.comms.models import OutboxMessage
from mobilise.core import audit
from mobilise.core.clock import FixedClock
from mobilise.core.db import session_factory
from mobilise.core.settings import Settings
from mobilise.people.models import Person, Site
from mobilise.rollout import appointments as appts
from mobilise.rollout import reports
from mobilise.rollout.models import Appointment, RolloutPlan, StockDelivery
from mobilise.rollout.notices import Notice, queue_notices
from mobilise.rollout.planning import RolloutRecords
from tests.factories import ADMIN, load_people
from tests.rollout.desk import hand, shelf
from tests.smtp import SmtpServer

CLOCK = FixedClock(datetime(2023, 1, 9, 8, tzinfo=UTC))


def book_everyone(session: Session, days: list[date]) -> list[Appointment]:
    site = session.scalar(select(Site).where(Site.code == "CE-01"))
    assert site is not None
    appts.open_places(session, site.id, days, capacity=10)
    people = list(session.scalars(select(Person.id).order_by(Person.id)))
    return [appts.book(session, ADMIN, pid, site.id, days[i % len(days)])
            for i, pid in enumerate(people)]


def test_invitations_carry_a_calendar_and_are_queued_once(
        session: Session, settings: Settings, tmp_path: Path, smtp_server: SmtpServer) -> None:
    load_people(session, tmp_path, count=3)
    templates.ensure_defaults(session, ADMIN)
    booked = book_everyone(session, [date(2023, 1, 17)])
    appts.open_places(session, booked[0].site_id, [date(2023, 1, 18)], capacity=10)
    assert queue_notices(session, settings, Notice.INVITATION, CLOCK) == 3
    assert queue_notices(session, settings, Notice.INVITATION, CLOCK) == 0
    session.commit()
    sending = settings.model_copy(update={"smtp_host": smtp_server.host,
                                          "smtp_port": smtp_server.port})
    report = outbox.send_queued(session_factory(settings), sending, worker="t", clock=CLOCK)
    assert report.sent == 3
    first = next(m for m in smtp_server.recorder.messages
                 if m.to == ["alex0.smith@example.police.uk"])
    email = message_from_bytes(first.raw)
    parts = {p.get_content_type(): p for p in email.walk()}
    assert "Tuesday 17 January 2023" in str(parts["text/plain"].get_payload(decode=True))
    ics = parts["text/calendar"].get_payload(decode=True).decode("utf-8")
    assert parts["text/calendar"].get_param("method") == "REQUEST"
    lines = ics.split("\r\n")
    assert lines[0] == "BEGIN:VCALENDAR" and "DTSTART;VALUE=DATE:20230117" in lines
    assert f"UID:appointment-{booked[0].id}@{settings.email_domain}" in lines
    assert all(len(line.encode("utf-8")) <= 75 for line in lines)
    # A rescheduled appointment is a new appointment: it gets its own invitation.
    appts.reschedule(session, ADMIN, booked[0], booked[0].site_id, date(2023, 1, 18))
    assert queue_notices(session, settings, Notice.INVITATION, CLOCK) == 1
    moved = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
    assert moved is not None and moved.attachment is not None
    # Same calendar entry, moved: the first appointment's UID with a higher SEQUENCE.
    assert f"UID:appointment-{booked[0].id}@" in moved.attachment
    assert "SEQUENCE:1" in moved.attachment and "20230118" in moved.attachment
    keys = set(session.scalars(select(OutboxMessage.idempotency_key)))
    assert len(keys) == 4


def test_forecast_from_the_recent_rate(session: Session, settings: Settings,
                                       tmp_path: Path) -> None:
    load_people(session, tmp_path, count=12)
    phones = shelf(session, settings, tmp_path, 8)
    # Weeks of 2, 9 and 16 January: 4 handed over in each of the two weeks before the 23rd.
    booked = book_everyone(session, [date(2023, 1, 10), date(2023, 1, 17), date(2023, 1, 24)])
    by_day = sorted(booked, key=lambda a: (a.day, a.id))
    for phone, a in zip(phones, by_day[:8], strict=True):
        hand(session, settings, phone, a.person_id, a.day)
    clock = FixedClock(datetime(2023, 1, 23, 9, tzinfo=UTC))
    fc = reports.forecast(session, RolloutRecords(), settings, clock)
    assert (fc.total, fc.issued, fc.remaining) == (12, 8, 4)
    assert fc.rate_per_week == 2.0  # 8 over the last four whole weeks
    # The projection starts from this week at 8 and adds 2 a week: 12 in the week of 6
    # February, whose Friday is the forecast finish.
    assert fc.finish == date(2023, 2, 10)
    this_week = next(w for w in fc.weeks if w["week"] == date(2023, 1, 23))
    assert this_week["actual"] == 8 and this_week["forecast"] == 8
    unit = reports.forecast(session, RolloutRecords(), settings, clock, org_unit="CE")
    assert (unit.total, unit.issued, unit.finish) == (12, 8, date(2023, 2, 10))
    assert reports.forecast(session, RolloutRecords(), settings, clock, "NW").total == 0
    rows = {r["org_unit"]: r for r in reports.by_org_unit(session, RolloutRecords())}
    assert rows["CE"]["issued"] == 8 and rows["CE"]["booked"] == 4


def test_risk_flags(session: Session, settings: Settings, tmp_path: Path) -> None:
    load_people(session, tmp_path, count=10)
    audit.create(session, ADMIN, "delivery.add",
                 StockDelivery(expected_on=date(2023, 1, 2), quantity=6))
    audit.create(session, ADMIN, "rollout_plan.make", RolloutPlan(
        made_at=CLOCK.now(), start=date(2023, 1, 9), deadline=date(2023, 3, 31),
        staging_per_day=5, priority=[], people=10, met=False, last_day=date(2023, 4, 6),
        people_late=3, days_late=4, advice={"extra_slots_per_site_per_day": 1,
                                            "extra_staging_per_day": None,
                                            "extra_stock_at_start": None},
        planned_by_day={}, planned_by_unit={}, staging=[], unplaceable=[]))
    session.flush()
    tight = settings.model_copy(update={"mdm_capacity": 10_005})
    flags = {r.flag: r for r in reports.risks(session, RolloutRecords(managed_before=10_000),
                                              tight, CLOCK)}
    assert set(flags) == {"stock_short", "stock_late", "capacity_short", "mdm_capacity",
                          "deadline_at_risk"}
    assert "4 short" in flags["stock_short"].message
    assert flags["mdm_capacity"].level == "red"
    assert "extra slots per site per day +1" in flags["capacity_short"].message
    roomy = settings.model_copy(update={"mdm_capacity": 10_011})
    flags = {r.flag: r for r in reports.risks(session, RolloutRecords(managed_before=10_000),
                                              roomy, CLOCK)}
    assert flags["mdm_capacity"].level == "amber"


def test_stock_short_is_told_per_model(session: Session, settings: Settings,
                                       tmp_path: Path) -> None:
    load_people(session, tmp_path, count=4)
    person = session.scalar(select(Person).where(Person.number == "100002"))
    assert person is not None
    with audit.change(session, ADMIN, "person.update", person):
        person.adjustments = "Large-screen handset (occupational health referral)"
    audit.create(session, ADMIN, "delivery.add",
                 StockDelivery(expected_on=date(2023, 1, 2), quantity=10))
    session.flush()
    short = [r.message for r in reports.risks(session, RolloutRecords(), settings, CLOCK)
             if r.flag == "stock_short"]
    # Ten standard handsets for three people, none of the large-screen model for one.
    assert short == ["1 person still needs large-screen handsets but only 0 are in stock or "
                     "expected: 1 short"]
