"""Real Chromium (Debian's, driven by Playwright) against a real server on loopback."""

from __future__ import annotations

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
from playwright.sync_api import Browser, Page, sync_playwright

from mobilise.core import auth
from mobilise.core.db import session_scope
from mobilise.core.settings import Settings
from mobilise.migration.waves import WaveSelection, create_wave
from mobilise.web.app import create_app
from tests.devices.fleet import build_fleet
from tests.factories import ADMIN, load_people

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
        create_wave(s, ADMIN, "Pilot", WaveSelection(people=[str(100000 + n) for n in range(5)]),
                    schedule=[None, None, datetime(2026, 11, 25, 9, tzinfo=UTC)])
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
    page.wait_for_url(site.url + "/")
