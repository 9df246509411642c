"""Real Chromium (Debian's, driven by Playwright) against a real server on loopback."""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import uvicorn
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, sync_playwright
from sqlalchemy import select

from mobilise.core import auth
from mobilise.core.actor import Actor, Role
from mobilise.core.clock import SystemClock
from mobilise.core.db import session_factory, session_scope
from mobilise.core.progress import NullProgress
from mobilise.core.settings import Settings
from mobilise.drives.estate import scan_people
from mobilise.migration.launch import start_notices
from mobilise.migration.waves import WaveSelection, create_wave
from mobilise.people import logins
from mobilise.people.models import Person
from mobilise.retention import disposal, holds, review, rule_sets
from mobilise.retention.scanned import (
    drive_of,
    propose_scanned,
    record_scanned_dry_run,
    scanned_estate,
)
from mobilise.web.app import create_app
from tests.devices.fleet import build_fleet
from tests.factories import ADMIN, load_people
from tests.retention.small_estate import HOME_FILES, RULE_SET

PASSWORD = "browser test password"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("Chromium is missing: script/test installs the Debian package chromium")
    return found


@dataclass
class Site:
    url: str
    settings: Settings


def serve(settings: Settings) -> Iterator[Site]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                            log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield Site(f"http://127.0.0.1:{port}", settings)
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def site(sqlite_settings: Settings, tmp_path: Path) -> Iterator[Site]:
    """Thirty people, an admin, and a wave "Pilot" of the first five (cutover planned)."""
    with session_scope(sqlite_settings) as s:
        load_people(s, tmp_path, count=30)
        auth.add_user(s, ADMIN, "admin", PASSWORD, ["admin"])
        wave = create_wave(s, ADMIN, "Pilot", WaveSelection(
            people=[str(100000 + n) for n in range(5)]),
            schedule=[None, None, datetime(2026, 11, 25, 9, tzinfo=UTC)])
    # Job 1: readiness reports queued from the wave page (nobody scanned: none due), for
    # the page's job status (/waves/Pilot?job=1).
    start_notices(session_factory(sqlite_settings), ADMIN, sqlite_settings, wave,
                  "readiness", here=NullProgress())
    yield from serve(sqlite_settings)


@pytest.fixture
def fleet_site(sqlite_settings: Settings, tmp_path: Path) -> Iterator[Site]:
    """The device fleet (one handset in each state, spares in stock) and an admin."""
    with session_scope(sqlite_settings) as s:
        build_fleet(s, sqlite_settings, tmp_path)
        auth.add_user(s, ADMIN, "admin", PASSWORD, ["admin"])
    # SIM bar requests need somewhere to go.
    yield from serve(sqlite_settings.model_copy(
        update={"carrier_default_address": "bars@carrier.example"}))


def _retention_estate(settings: Settings, tmp_path: Path) -> Settings:
    """Thirty people, an admin, records managers rm1 and rm2, Alex0 Smith's account
    "alex" linked to them, their drive (HOME_FILES: one file to keep, one to dispose of,
    one flagged for review) scanned, rule set browser v1 active (v2 a draft) and
    dry-run, and the flagged file queued for review."""
    settings = settings.model_copy(update={"home_template": str(settings.home_root) + "/{sam}"})
    home = Path(settings.home_root) / "asmith0"
    for rel, data in HOME_FILES.items():
        (home / rel).parent.mkdir(parents=True, exist_ok=True)
        (home / rel).write_bytes(data)
        os.utime(home / rel, (1_700_000_000, 1_700_000_000))
    with session_scope(settings) as s:
        load_people(s, tmp_path, count=30)
        auth.add_user(s, ADMIN, "admin", PASSWORD, ["admin"])
        for name in ("rm1", "rm2"):
            auth.add_user(s, ADMIN, name, PASSWORD, ["records"])
        alex = auth.add_user(s, ADMIN, "alex", PASSWORD, ["viewer"])
        person = s.scalar(select(Person).where(Person.number == "100000"))
        assert person is not None
        s.flush()
        logins.link_login(s, ADMIN, alex, person)
        scan_people(s, settings, [person], SystemClock())
        for version, media in ((1, "review"), (2, "dispose")):
            rule_sets.add_rule_set(
                s, ADMIN, RULE_SET.format(name="browser", version=version, media=media))
        active = rule_sets.activate(s, ADMIN, "browser", 1, reason="agreed")
        # Recorded, so the dry-run page shows its charts and tables.
        record_scanned_dry_run(s, ADMIN, active, SystemClock().now().date())
        scanned = scanned_estate(s)
        assert scanned is not None
        review.queue_reviews(s, ADMIN, active, scanned.estate, SystemClock().now().date())
    return settings


@pytest.fixture
def retention_site(sqlite_settings: Settings, tmp_path: Path) -> Iterator[Site]:
    """A scanned drive under an active rule set: a file awaits review, none is disposed."""
    yield from serve(_retention_estate(sqlite_settings, tmp_path))


@pytest.fixture
def disposed_site(sqlite_settings: Settings, tmp_path: Path) -> Iterator[Site]:
    """The retention estate after disposal batch 1 (proposed by rm1, approved by rm2) has
    been executed, with a legal hold placed on someone else."""
    settings = _retention_estate(sqlite_settings, tmp_path)
    rm1 = Actor("rm1", frozenset({Role.RECORDS}))
    rm2 = Actor("rm2", frozenset({Role.RECORDS}))
    with session_scope(settings) as s:
        active = rule_sets.get_version(s, "browser", 1)
        batch = propose_scanned(s, rm1, settings, active, SystemClock().now().date())
        disposal.approve_batch(s, rm2, batch.id, reason="checked")
        disposal.execute_batch(s, rm2, batch.id, drive_of(s, settings))
        holds.place_hold(s, rm1, "FOI-7", "foi", "request received", people=["100003"])
    yield from serve(settings)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    pg = context.new_page()
    yield pg
    context.close()


def sign_in(page: Page, site: Site, username: str = "admin", password: str = PASSWORD) -> None:
    page.goto(site.url + "/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    # Staff land on the overview; a login with no staff role on its own page (/me).
    page.wait_for_url(re.compile(re.escape(site.url) + "/(me)?$"))


def assert_accessible(page: Page) -> None:
    """axe-core over the page as it stands: no serious or critical violation."""
    results = Axe().run(page)
    serious = [v for v in results.response["violations"]
               if v["impact"] in {"serious", "critical"}]
    assert serious == [], page.url + "\n" + "\n".join(
        f"{v['id']}: {v['help']} ({len(v['nodes'])} nodes: "
        f"{', '.join(str(n['target']) for n in v['nodes'][:3])})" for v in serious)


@pytest.fixture
def self_service_site(sqlite_settings: Settings, tmp_path: Path) -> Iterator[Site]:
    """tests/web/self_service_estate.py: alice holds a handset (policy 2.0 to accept),
    bob has a booked appointment, a scanned drive and files to review; desk and planner
    logins (their password is that estate's)."""
    from tests.web.self_service_estate import build, with_drives

    estate = build(with_drives(sqlite_settings), tmp_path)
    yield from serve(estate.settings)
