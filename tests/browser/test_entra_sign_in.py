"""Signing in with Microsoft in real Chromium: the app sends the browser to the emulator's
identity platform (HTTPS, its own test CA, which MSAL in the app trusts through
``entra_ca_bundle``), the person picks their account, and comes back signed in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from pydantic import SecretStr
from sqlalchemy import select

from mobilise.core import auth
from mobilise.core.db import session_scope
from mobilise.core.settings import Settings
from mobilise.emulator.server import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, EmulatorProcess
from mobilise.people.models import Person
from tests.browser.conftest import Site, assert_accessible, serve
from tests.factories import load_people
from tests.storage.onedrive_fixture import onedrive_emulator

__all__ = ["onedrive_emulator"]

RECORDS_GROUP = "0b7c-records-managers"


@pytest.fixture
def entra_site(sqlite_settings: Settings, tmp_path: Path,
               onedrive_emulator: EmulatorProcess) -> Iterator[Site]:
    with session_scope(sqlite_settings) as s:
        load_people(s, tmp_path, count=5)
    settings = sqlite_settings.model_copy(update={
        "entra_authority": onedrive_emulator.authority, "entra_client_id": DEFAULT_CLIENT_ID,
        "entra_client_secret": SecretStr(DEFAULT_CLIENT_SECRET),
        "entra_ca_bundle": onedrive_emulator.ca,
        "entra_role_map": {RECORDS_GROUP: ["records"]}})
    with onedrive_emulator.admin() as admin:
        for upn, groups in (("alex1.smith@example.police.uk", []),
                            ("alex2.smith@example.police.uk", [RECORDS_GROUP])):
            admin.post("/users", json={"userPrincipalName": upn}).raise_for_status()
            admin.patch(f"/users/{upn}", json={"groups": groups, "appRoles": []}
                        ).raise_for_status()
    yield from serve(settings)


@pytest.fixture
def emulator_page(browser: Browser) -> Iterator[Page]:
    # The emulator's sign-in page is served with a certificate from its own test CA,
    # which Chromium does not know; the app's side (MSAL) verifies it properly.
    context = browser.new_context(ignore_https_errors=True)
    page = context.new_page()
    yield page
    context.close()


def sign_in_with_microsoft(page: Page, site: Site, upn: str, start: str = "/login") -> None:
    page.goto(site.url + start)
    page.get_by_role("button", name="Sign in with Microsoft").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert page.url.startswith("https://127.0.0.1:")  # on the identity platform's page
    page.get_by_label("Email or user principal name").fill(upn)
    page.get_by_role("button", name="Next").click()


def linked_person(site: Site, upn: str) -> tuple[list[str], str | None]:
    with session_scope(site.settings) as s:
        user = s.scalar(select(auth.User).where(auth.User.username == upn))
        assert user is not None
        person = s.get(Person, user.person_id) if user.person_id else None
        return list(user.roles), person.number if person else None


def test_an_officer_signs_in_with_microsoft(emulator_page: Page, entra_site: Site) -> None:
    upn = "alex1.smith@example.police.uk"
    sign_in_with_microsoft(emulator_page, entra_site, upn)
    # No staff role: the officer's own page is where they start.
    emulator_page.wait_for_url(entra_site.url + "/me")
    expect(emulator_page.get_by_text(upn)).to_be_visible()  # signed in, as themself
    assert linked_person(entra_site, upn) == ([], "100001")


def test_a_records_manager_signs_in_with_microsoft(emulator_page: Page,
                                                   entra_site: Site) -> None:
    upn = "alex2.smith@example.police.uk"
    sign_in_with_microsoft(emulator_page, entra_site, upn, start="/retention")
    emulator_page.wait_for_url(entra_site.url + "/retention")
    expect(emulator_page.get_by_role("link", name="Retention", exact=True)).to_be_visible()
    expect(emulator_page.get_by_role("heading", level=1)).to_be_visible()
    assert_accessible(emulator_page)
    assert linked_person(entra_site, upn) == (["records"], "100002")
    emulator_page.get_by_role("button", name="Sign out").click()
    expect(emulator_page.get_by_role("button", name="Sign in with Microsoft")).to_be_visible()
    assert_accessible(emulator_page)
