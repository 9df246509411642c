"""No page or API route asks the database once per row it shows.

A query per row (an N+1: a lazy load in a loop) is cheap on the twelve people of most
tests and ruinous at 45,000: under 50 clients on PostgreSQL the people search spent four
fifths of its time in such loads. So every GET route is read on the demo at two sizes,
and the number of statements it sends must not grow with the estate.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select
from sqlalchemy.engine import Engine

from mobilise.comms.models import MessageTemplate
from mobilise.core import auth
from mobilise.core.actor import Actor, Role
from mobilise.core.clock import SystemClock
from mobilise.core.db import session_scope
from mobilise.core.progress import Job, JobProgress
from mobilise.core.settings import Settings
from mobilise.demo.run import run_demo
from mobilise.devices.models import Handset
from mobilise.drives import estate as drive_estate
from mobilise.migration.models import MigrationWave
from mobilise.people.models import Person
from mobilise.retention import disposal
from mobilise.retention.models import DisposalBatch, RuleSetVersion
from mobilise.retention.scanned import drive_of, propose_scanned
from mobilise.rollout.models import Appointment
from mobilise.web.app import create_app
from tests.factories import ADMIN
from tests.web.conftest import all_routes

SMALL, LARGE = 30, 90
RECORDS = Actor("counts-records-manager", frozenset({Role.RECORDS}))
APPROVER = Actor("counts-approver", frozenset({Role.RECORDS}))

# GET routes this test does not read, and why.
NOT_COUNTED = {
    "/login/microsoft": "a redirect to the identity platform (404 where Entra is not set up)",
    "/auth/callback": "the identity platform's way back (404 where Entra is not set up)",
    "/healthz": "no database",
    "/login": "no database",
    "/api/v1/openapi.json": "no database",
    "/reports/board.pdf": "the same queries as /reports/board.html, which is counted",
    "/me/policy/receipts/{acceptance_id}.pdf": "the same queries as "
    "/api/v1/me/policy/receipts/{acceptance_id}, which is counted (and a PDF by Chromium)",
    "/api/v1/me/policy/receipts/{acceptance_id}/pdf": "as the one above",
    "/api/v1/policy/acceptances/{acceptance_id}/pdf": "as the one above, for the desk",
}


@dataclass
class Estate:
    client: TestClient
    token: str
    keys: dict[str, str | None]


def _estate(root: Path, people: int) -> Generator[Estate]:
    settings = Settings(database_url=f"sqlite:///{root / 'demo.db'}", data_dir=root / "data",
                        home_root=root / "home", archive_root=root / "archive",
                        migration_destination_root=root / "onedrive")
    run_demo(settings, root / "out", people=people, report=lambda _: None)
    # What the demo leaves out: a disposal batch carried out (of a Thumbs.db in every
    # home, scanned again) and a finished job.
    for home in settings.home_root.iterdir():
        (home / "Thumbs.db").write_bytes(b"thumbnails")
    homes = settings.model_copy(update={  # where the demo's drives step put them
        "home_unc_root": f"\\\\isilon.{settings.email_domain}\\home$"})
    with session_scope(homes) as s:
        scanned = drive_estate.scan_people(s, homes, drive_estate.select_people(s, everyone=True),
                                           SystemClock())
        assert scanned.scans
    with session_scope(settings) as s:
        active = s.scalar(select(RuleSetVersion).where(RuleSetVersion.status == "active"))
        assert active is not None
        batch = propose_scanned(s, RECORDS, homes, active, SystemClock().now().date())
        disposal.approve_batch(s, APPROVER, batch.id, reason="checked")
        disposal.execute_batch(s, APPROVER, batch.id, drive_of(s, homes))
        job = JobProgress(s, "count")
        job.start(1, "a job to show")
        job.finish("done")
    with session_scope(settings) as s:
        user = s.scalar(select(auth.User).where(auth.User.username == "admin"))
        assert user is not None
        token = auth.issue_token(s, ADMIN, user, "counts")
        person = s.scalar(select(Person.number).order_by(Person.id).offset(people // 2).limit(1))
        handset = s.scalar(select(Handset.imei).where(Handset.holder_id.is_not(None))
                           .order_by(Handset.id))
        rules = s.execute(select(RuleSetVersion.name, RuleSetVersion.version)).first()

        def first(column: Any) -> str | None:
            found = s.scalar(select(column).order_by(column))
            return None if found is None else str(found)

        acceptance = _self_service(s, user, handset)
        keys = {"people": person, "handsets": handset, "waves": first(MigrationWave.name),
                "acceptance_id": acceptance,
                "number": person, "job_id": first(Job.id),
                "appointment_id": first(Appointment.id), "batch_id": first(DisposalBatch.id),
                "templates": first(MessageTemplate.name), "username": "admin",
                "rule-sets": rules[0] if rules else None,
                "version": str(rules[1]) if rules else None}
    with TestClient(create_app(settings)) as client:
        yield Estate(client, token, keys)


def _self_service(s: Any, user: auth.User, imei: str | None) -> str:
    """The admin login linked to the holder of ``imei``, who also has an appointment
    booked and has signed the policy in force: every /me page has something to show."""
    from datetime import timedelta

    from mobilise.core import audit
    from mobilise.devices import policy
    from mobilise.people.models import Site
    from mobilise.rollout import appointments

    handset = s.scalar(select(Handset).where(Handset.imei == imei))
    assert handset is not None and handset.holder is not None
    with audit.change(s, ADMIN, "user.link_person", user):
        user.person_id = handset.holder_id
    clock = SystemClock()
    site = s.scalar(select(Site).where(Site.issuing.is_(True)).order_by(Site.id))
    day = clock.today() + timedelta(days=30)
    appointments.open_places(s, site.id, [day], 5)
    if appointments.live_appointment(s, handset.holder.id) is None:
        appointments.book(s, ADMIN, handset.holder.id, site.id, day)
    policy.publish_version(s, ADMIN, clock, "9.9", "Counted words.", clock.today())
    return str(policy.accept(s, ADMIN, clock, handset.holder, handset, "desk-screen").id)


@pytest.fixture(scope="module")
def estates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[int, Estate]]:
    small = _estate(tmp_path_factory.mktemp("small"), SMALL)
    large = _estate(tmp_path_factory.mktemp("large"), LARGE)
    yield {SMALL: next(small), LARGE: next(large)}
    for made in (small, large):
        made.close()


def _path(template: str, keys: dict[str, str | None]) -> str | None:
    """The route with its keys filled from the estate; None for a key the demo lacks.
    A ``{key}`` or ``{name}`` is named by the segment before it (people, handsets...)."""
    parts = template.split("/")
    for n, part in enumerate(parts):
        if part.startswith("{"):
            name = part.strip("{}")
            value = keys.get(parts[n - 1] if name in ("key", "name") else name)
            if value is None:
                return None
            parts[n] = value
    return "/".join(parts)


def _counted_paths() -> list[str]:
    app = create_app(Settings(database_url="sqlite://"))
    found = []
    for route in all_routes(app):
        if "GET" in (route.methods or ()) and route.path not in NOT_COUNTED:
            found.append(route.path)
    return found


def _statements(estate: Estate, path: str) -> tuple[int, int]:
    """(status, statements sent) for the second read: the first fills the caches."""
    headers = {"Authorization": f"Bearer {estate.token}"}
    estate.client.get(path, headers=headers)
    sent: list[Any] = []

    def count(*_: Any) -> None:
        sent.append(1)

    event.listen(Engine, "before_cursor_execute", count)
    try:
        status = estate.client.get(path, headers=headers).status_code
    finally:
        event.remove(Engine, "before_cursor_execute", count)
    return status, len(sent)


ROUTES = _counted_paths()


@pytest.mark.parametrize("route", ROUTES)
def test_statements_do_not_grow_with_the_estate(estates: dict[int, Estate], route: str
                                                ) -> None:
    counts = {}
    for size, estate in estates.items():
        path = _path(route, estate.keys)
        if path is None:
            pytest.fail(f"no key for {route}: add its prefix to the estate's keys")
        query = "?q=a" if path in ("/people", "/api/v1/people", "/handover") else ""
        status, sent = _statements(estate, path + query)
        assert status == 200, (path, status)
        counts[size] = sent
    assert counts[LARGE] <= counts[SMALL], (
        f"{route}: {counts[SMALL]} statements at {SMALL} people, {counts[LARGE]} at {LARGE}")
