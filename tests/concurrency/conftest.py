"""One served app per database per module, on a small estate built through the domain:
people, a handset fleet (tests/devices/fleet.py), records managers and service-desk users
with API tokens, and scanned H: drives with files due for disposal."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilise.comms import templates
from mobilise.comms.models import OutboxMessage
from mobilise.core import auth
from mobilise.core.actor import Actor, Role
from mobilise.core.clock import SystemClock
from mobilise.core.db import make_engine, session_factory, session_scope
from mobilise.core.settings import Settings
from mobilise.core.transitions import run_transition
from mobilise.devices import handsets
from mobilise.devices.transitions import SIM_BAR
from mobilise.drives.estate import scan_people
from mobilise.finance.decisions import record_decision
from mobilise.finance.papers import PAPERS
from mobilise.migration import waves
from mobilise.people import roster
from mobilise.people.models import Person, Site
from mobilise.retention import disposal, holds, rule_sets
from mobilise.retention.models import ReviewItem
from mobilise.retention.scanned import propose_scanned, queue_scanned
from mobilise.rollout import appointments
from tests.conftest import EXACT, _pg_clone, _pg_drop
from tests.devices.fleet import build_fleet, iccid, spares
from tests.factories import ADMIN, ROSTER_HEADER, person_row, write_csv
from tests.retention.small_estate import RULE_SET

from .harness import serve

PASSWORD = "correct horse battery"
N = 12  # parallel requests per case
DUE_FILES = 10  # files due for disposal on each prepared drive
REVIEW_FILES = 3  # files the rule set sends to review, on each prepared drive
USERS = {"admin": ["admin"], "desk": ["service-desk"], "rm1": ["records"],
         "rm2": ["records"], "rm3": ["records"], "planner": ["programme"],
         "migration": ["migration"]}


@dataclass
class Served:
    """The served app, its settings, API tokens and the ids the cases work on."""

    url: str
    settings: Settings
    tokens: dict[str, str]
    ids: dict[str, Any] = field(default_factory=dict)


def _drive(home: Path, sam: str) -> None:
    """Files due for disposal (``.tmp``) and files to review (``.mp3``)."""
    root = home / sam
    names = [f"scratch/build{i}.tmp" for i in range(DUE_FILES)]
    names += [f"Music/song{i}.mp3" for i in range(REVIEW_FILES)]
    for i, name in enumerate(names):
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(f"content {i}".encode())
        os.utime(target, (1_700_000_000, 1_700_000_000))


def build_estate(settings: Settings, tmp: Path) -> dict[str, Any]:
    ids: dict[str, Any] = {}
    with session_factory(settings)() as s:
        fleet = build_fleet(s, settings, tmp, people=16)
        ids["people"] = [p.number for p in fleet.people]
        ids["spares"] = [h.imei for h in spares(fleet)]
        ids["by_state"] = {str(k): h.imei for k, h in fleet.by_state.items()}
        s.commit()
    tokens = {}
    with session_scope(settings) as s:
        for name, roles in USERS.items():
            user = auth.add_user(s, ADMIN, name, PASSWORD, roles)
            s.flush()
            tokens[name] = auth.issue_token(s, ADMIN, user, "test")
    ids["tokens"] = tokens
    # Drives of people 100001 to 100003 (sam asmith1 to 3), each with files due.
    for sam in ("asmith1", "asmith2", "asmith3"):
        _drive(Path(settings.home_root), sam)
    rm1_actor = Actor("rm1", frozenset({Role.RECORDS}))
    rm2_actor = Actor("rm2", frozenset({Role.RECORDS}))
    with session_scope(settings) as s:
        people = list(s.scalars(select(Person).where(
            Person.number.in_(["100001", "100002", "100003"]))))
        scan_people(s, settings, people, SystemClock())
        rule_sets.add_rule_set(s, rm1_actor, RULE_SET.format(name="drives", version=1,
                                                             media="review"))
        version = rule_sets.activate(s, rm1_actor, "drives", 1)
        rule_sets.add_rule_set(s, rm1_actor, RULE_SET.format(name="other", version=1,
                                                             media="review"))
        today = datetime.now(UTC).date()
        for number in ("100001", "100002"):
            queue_scanned(s, rm1_actor, version, today, person=number)
        ids["review_item"] = s.scalar(select(ReviewItem.id).where(
            ReviewItem.person == "100002").order_by(ReviewItem.id).limit(1))
        holds.place_hold(s, rm1_actor, "H-RACE", "litigation", "a claim",
                         people=["100015"])
        to_approve = propose_scanned(s, rm1_actor, settings, version, today, person="100001")
        to_execute = propose_scanned(s, rm1_actor, settings, version, today, person="100002")
        s.flush()
        disposal.approve_batch(s, rm2_actor, to_execute.id)
        ids["batch_to_approve"] = to_approve.id
        ids["batch_to_execute"] = to_execute.id
    with session_scope(settings) as s:
        ids.update(_devices_and_rollout(s, settings))
    with session_scope(settings) as s:
        ids.update(_leaver_papers_and_wave(s, tmp))
    with session_scope(settings) as s:
        _after_cutover_wave(s, settings)
    ids.update(_self_service(settings, tmp, ids["by_state"], ids["roster"]))
    return ids


SELF_SERVICE = ("200001", "200002", "200003", "200004", "200005")


def _self_service(settings: Settings, tmp: Path, fleet_issued: dict[str, str],
                  roster_rows: list[Any]) -> dict[str, Any]:
    """People of their own for the self-service cases, each with a login linked to them
    (``me200001``...; ``me100000`` holds an issued handset): 200001 has files to review,
    200002 and 200003 booked, 200004 and 200005 holding handsets, 200005 asking for an
    adjustment; a policy in force; places open in the days ahead."""
    from mobilise.core import audit
    from mobilise.devices import policy
    from mobilise.devices.models import Handset
    from mobilise.people import adjustments
    from tests.web.self_service_estate import open_days

    ids: dict[str, Any] = {}
    clock = SystemClock()
    # In the roster (person_row(100001) is number 200001), so that the roster-import case
    # does not make them leavers.
    rows = [*roster_rows, *[person_row(100000 + int(n) - 200000) for n in SELF_SERVICE]]
    ids["roster"] = rows
    with session_scope(settings) as s:
        roster.import_roster(s, ADMIN, write_csv(tmp / "roster-self.csv", ROSTER_HEADER, rows))
    with session_scope(settings) as s:
        people = {p.number: p for p in s.scalars(select(Person).where(
            Person.number.in_([*SELF_SERVICE, "100000"])))}
        tokens = {}
        for number, person in people.items():
            user = auth.add_user(s, ADMIN, f"me{number}", PASSWORD, [])
            s.flush()
            with audit.change(s, ADMIN, "user.link_person", user):
                user.person_id = person.id
            tokens[f"me{number}"] = auth.issue_token(s, ADMIN, user, "test")
        ids["me_tokens"] = tokens
        policy.publish_version(s, ADMIN, clock, "1.0", "Use it for work.",
                               clock.today() - timedelta(days=1))
        site = s.scalars(select(Site).where(Site.code == "CE-01")).one()
        days = open_days(3)
        appointments.open_places(s, site.id, days, capacity=5)
        ids["me_days"] = [d.isoformat() for d in days]
        for number in ("200002", "200003"):
            appointments.book(s, ADMIN, people[number].id, site.id, days[0])
        in_stock = s.scalars(select(Handset).where(
            Handset.imei == fleet_issued["in_stock"])).one()
        # The fleet's returned handset, back in stock (the spares are the other cases').
        spare = s.scalars(select(Handset).where(
            Handset.imei == fleet_issued["returned"])).one()
        handsets.move_handsets(s, ADMIN, settings, clock, "stock", [spare], site=site)
        for number, handset in (("200004", spare), ("200005", in_stock)):
            handsets.issue_handset(s, ADMIN, settings, clock, handset, people[number],
                                   method="signature")
            ids[f"imei_{number}"] = handset.imei
        ids["imei_100000"] = fleet_issued["issued"]
        ids["adjustment_request"] = adjustments.request_change(
            s, ADMIN, clock, people["200005"], "step-free, please").id
        version = rule_sets.get_version(s, "drives")
        # 200001's drive, with files to review (100001 to 100003 are the other cases').
        _drive(Path(settings.home_root), "asmith100001")
        scan_people(s, settings, [people["200001"]], clock)
        queue_scanned(s, Actor("rm1", frozenset({Role.RECORDS})), version, clock.today(),
                      person="200001")
    return ids


def _after_cutover_wave(s: Session, settings: Settings) -> None:
    """Wave A (100004 to 100007) cut over; after it, 100005 is archived, 100006 archived
    and signed off, 100007 in grace, 100004 not yet moved on."""
    from mobilise.migration import after
    from mobilise.migration.rounds import cutover, run_round
    from mobilise.workers import InProcessExecutor

    for sam in ("asmith4", "asmith5", "asmith6", "asmith7"):
        _drive(Path(settings.home_root), sam)
    wave = waves.create_wave(s, ADMIN, "A", waves.WaveSelection(
        people=["100004", "100005", "100006", "100007"]), delta_rounds=0)
    s.commit()
    executor = InProcessExecutor(settings, workers=1)
    run_round(s, ADMIN, settings, wave, executor)
    assert all(o.migrated for o in cutover(s, ADMIN, settings, wave, executor,
                                           frozen_confirmed=True))
    rows = {r.migration.person.number: r for r in after.ensure_rows(s, ADMIN, wave)}
    now = datetime.now(UTC)
    steps = {"100005": ["grace", "read_only", "archive"],
             "100006": ["grace", "read_only", "archive"], "100007": ["grace"]}
    for number, names in steps.items():
        for name in names:
            run_transition(s, ADMIN, after.AFTER_LIFECYCLE, name, [rows[number]],
                           reason="concurrency estate", now=now, settings=settings,
                           hook_done=True)
    s.commit()
    after.sign_off(s, Actor("rm1", frozenset({Role.RECORDS})), wave, "100006", "checked")


def _leaver_papers_and_wave(s: Session, tmp: Path) -> dict[str, Any]:
    """Person 100000 (holding a handset) leaves; the finance papers; wave R over the
    drives of 100001 to 100003. (The fleet's lost and stolen handsets have their SIM bars
    queued already.)"""
    rows = [person_row(i, status="leaver" if i == 0 else "active") for i in range(16)]
    roster.import_roster(s, ADMIN, write_csv(tmp / "roster-leaver.csv", ROSTER_HEADER, rows))
    for paper in PAPERS:
        record_decision(s, ADMIN, paper)
    templates.ensure_defaults(s, ADMIN)
    waves.create_wave(s, ADMIN, "R", waves.WaveSelection(people=["100001", "100002",
                                                                 "100003"]), delta_rounds=1)
    return {"roster": rows}


DAY = date(2031, 3, 3)  # a Monday well ahead: the places opened for the cases


def _devices_and_rollout(s: Session, settings: Settings) -> dict[str, Any]:
    """SIMs at each step of the bar, appointments, a failed message."""
    ids: dict[str, Any] = {}
    clock = SystemClock()
    sims = [handsets.add_sim(s, ADMIN, iccid(900 + n), carrier="EE")
            for n in range(3)]
    s.flush()
    steps = [("request_bar", None), ("confirm_bar", None), ("request_unbar", "found")]
    for depth, (key, sim) in enumerate(zip(("bar_requested", "barred", "unbar_requested"),
                                           sims, strict=True)):
        for name, reason in steps[:depth + 1]:
            run_transition(s, ADMIN, SIM_BAR, name, [sim], reason=reason, clock=clock)
        ids[f"sim_{key}"] = sim.iccid
    site = s.scalars(select(Site).where(Site.code == "CE-01")).one()
    people = {p.number: p for p in s.scalars(select(Person))}
    appointments.open_places(s, site.id, [DAY], capacity=1)  # the last place
    appointments.open_places(s, site.id, [DAY + timedelta(days=1)], capacity=5)
    appointments.open_places(s, site.id, [DAY + timedelta(days=2)], capacity=5)
    for key, number in (("appointment_to_confirm", "100014"),
                        ("appointment_to_move", "100015")):
        ids[key] = appointments.book(s, ADMIN, people[number].id, site.id,
                                     DAY + timedelta(days=1)).id
    message = OutboxMessage(idempotency_key="race:1", template="t", template_version=1,
                            recipient="a@example.org", subject="s", body="b", message_id="m",
                            status="failed", attempts=1, created_at=clock.now())
    s.add(message)
    s.flush()
    ids["failed_message"] = message.id
    return ids


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("served")
    data = tmp / "data"
    common: dict[str, Any] = {"data_dir": data, "home_root": data / "home",
                              "home_template": str(data / "home") + "/{sam}",
                              "carrier_default_address": "bars@carrier.example",
                              "migration_destination": "local",
                              "migration_destination_root": tmp / "od",
                              "archive_root": tmp / "archive",
                              "audit_key": "an audit key for the concurrency tests", **EXACT}
    if request.param == "sqlite":
        db = tmp / "mobilise.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), db)
        url, drop = f"sqlite:///{db}", None
    else:
        drop, url = _pg_clone(request.getfixturevalue("pg_template"))
    settings = Settings(database_url=url, **common)
    ids = build_estate(settings, tmp)
    tokens = {**ids.pop("tokens"), **ids.pop("me_tokens")}
    try:
        with serve(settings) as base:
            yield Served(base, settings, tokens, ids)
    finally:
        make_engine(url).dispose()
        if drop is not None:
            _pg_drop(drop)

