"""A small estate for the self-service tests (web, IDOR, browser): two people with logins
(``alice`` holds an issued handset; ``bob`` has a booked appointment, a scanned H: drive
with a file to rename, and files due for review), a service-desk login, a programme login,
a staff login linked to no person, a policy in force and issuing places ahead."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from mobilise.comms import templates
from mobilise.core import audit, auth
from mobilise.core.clock import SystemClock
from mobilise.core.db import session_factory, session_scope
from mobilise.core.settings import Settings
from mobilise.devices import policy
from mobilise.devices.models import Handset, HandsetStatus
from mobilise.drives.estate import scan_people
from mobilise.people.models import Person, Site
from mobilise.retention import rule_sets
from mobilise.retention.models import ReviewItem, ReviewStatus
from mobilise.rollout import appointments
from mobilise.rollout.calendar import is_working_day
from tests.devices.fleet import build_fleet, spares
from tests.factories import ADMIN
from tests.retention.small_estate import RULE_SET

PASSWORD = "correct horse battery"
POLICY_TEXT = "Use the phone for work. Report loss or theft at once.\n"
# login -> (roles, person number or None)
LOGINS: dict[str, tuple[list[str], str | None]] = {
    "alice": ([], "100000"), "bob": ([], "100001"), "desk": (["service-desk"], None),
    "planner": (["programme"], None), "staff": (["viewer"], None),
    "deskperson": (["service-desk"], "100002"),
}


@dataclass
class Estate:
    settings: Settings
    tokens: dict[str, str]
    ids: dict[str, Any] = field(default_factory=dict)


def open_days(count: int, start: date | None = None) -> list[date]:
    """The next ``count`` working days, from two days ahead."""
    day = start or datetime.now(UTC).date() + timedelta(days=2)
    found: list[date] = []
    while len(found) < count:
        if is_working_day(day):
            found.append(day)
        day += timedelta(days=1)
    return found


def with_drives(settings: Settings) -> Settings:
    home = Path(settings.data_dir) / "home"
    return settings.model_copy(update={"home_root": home,
                                       "home_template": str(home) + "/{sam}"})


def _drive(settings: Settings, sam: str) -> None:
    root = Path(settings.home_root) / sam
    for name in ("Documents/plan.docx", "Documents/notes?.txt", "Music/song0.mp3",
                 "Music/song1.mp3"):
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(name.encode())
        os.utime(target, (1_700_000_000, 1_700_000_000))


def build(settings: Settings, tmp: Path) -> Estate:
    ids: dict[str, Any] = {}
    with session_factory(settings)() as s:
        fleet = build_fleet(s, settings, tmp, people=12)
        ids["alice_imei"] = fleet.by_state[HandsetStatus.ISSUED].imei
        ids["spares"] = [h.imei for h in spares(fleet)]
        s.commit()
    tokens: dict[str, str] = {}
    with session_scope(settings) as s:
        people = {p.number: p for p in s.scalars(select(Person))}
        for name, (roles, number) in LOGINS.items():
            user = auth.add_user(s, ADMIN, name, PASSWORD, roles)
            s.flush()
            if number:  # linked as Entra sign-in will link it (User.person_id)
                with audit.change(s, ADMIN, "user.link_person", user):
                    user.person_id = people[number].id
            tokens[name] = auth.issue_token(s, ADMIN, user, "test")
        templates.ensure_defaults(s, ADMIN)
        policy.publish_version(s, ADMIN, SystemClock(), "1.0", POLICY_TEXT,
                               datetime.now(UTC).date() - timedelta(days=10))
        site = s.scalars(select(Site).where(Site.code == "CE-01")).one()
        days = open_days(3)
        appointments.open_places(s, site.id, days, capacity=3)
        ids["days"] = [d.isoformat() for d in days]
        ids["bob_appointment"] = appointments.book(s, ADMIN, people["100001"].id, site.id,
                                                   days[0]).id
        ids["carol_appointment"] = appointments.book(s, ADMIN, people["100003"].id, site.id,
                                                     days[0]).id
        _review_items(s, ids)
    _drive(settings, "asmith1")
    with session_scope(settings) as s:
        bob = s.scalars(select(Person).where(Person.number == "100001")).one()
        scan_people(s, settings, [bob], SystemClock())
        alice_handset = s.scalars(select(Handset).where(
            Handset.imei == ids["alice_imei"])).one()
        # Alice signed 1.0 at the desk (her receipt); 2.0 is in force since yesterday,
        # so she is asked to sign again.
        assert alice_handset.holder is not None
        row = policy.accept(s, ADMIN, SystemClock(), alice_handset.holder, alice_handset,
                            "desk-screen")
        ids["alice_acceptance"] = row.id
        policy.publish_version(s, ADMIN, SystemClock(), "2.0", POLICY_TEXT + "Version 2.\n",
                               datetime.now(UTC).date() - timedelta(days=1))
    return Estate(settings, tokens, ids)


def _review_items(s: Any, ids: dict[str, Any]) -> None:
    """Files due for review: two of bob's, one of carol's (100003)."""
    rule_sets.add_rule_set(s, ADMIN, RULE_SET.format(name="drives", version=1,
                                                     media="review"))
    version = rule_sets.activate(s, ADMIN, "drives", 1)
    made = []
    for person, path in (("100001", "Music/a.mp3"), ("100001", "Music/b.mp3"),
                         ("100003", "Music/c.mp3")):
        item = ReviewItem(rule_set_id=version.id, person=person, path=path, size=10,
                          rule="media", status=ReviewStatus.PENDING.value)
        audit.create(s, ADMIN, "retention.review.queue", item)
        made.append(item)
    s.flush()
    ids["bob_items"] = [made[0].id, made[1].id]
    ids["carol_item"] = made[2].id
