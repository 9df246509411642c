"""Sign-in with Microsoft through the app, against the emulator's identity platform over
TLS: the whole authorisation-code flow, then the app's refusals. Also the password
sign-in's rules that come with it (leavers, linking by UPN, passwords turned off)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import func, select, update

from mobilise.core import auth
from mobilise.core.audit import AuditEntry
from mobilise.core.db import session_scope
from mobilise.core.settings import Settings
from mobilise.emulator.server import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, EmulatorProcess
from mobilise.people.models import Person
from mobilise.web.app import create_app
from tests.factories import ADMIN, load_people
from tests.storage.onedrive_fixture import onedrive_emulator

__all__ = ["onedrive_emulator"]

RECORDS_GROUP = "5f0c6a0e-records-managers"
PASSWORD = "a long enough password"


def entra_settings(settings: Settings, emulator: EmulatorProcess, **changes: Any) -> Settings:
    return settings.model_copy(update={
        "entra_authority": emulator.authority, "entra_client_id": DEFAULT_CLIENT_ID,
        "entra_client_secret": SecretStr(DEFAULT_CLIENT_SECRET), "entra_ca_bundle": emulator.ca,
        "entra_role_map": {RECORDS_GROUP: ["records"], "Mobilise.Admin": ["admin"]},
        **changes})


@pytest.fixture
def app_settings(sqlite_settings: Settings, onedrive_emulator: EmulatorProcess,
                 tmp_path: Path) -> Settings:
    with session_scope(sqlite_settings) as s:
        load_people(s, tmp_path, count=4)
        auth.add_user(s, ADMIN, "breakglass", PASSWORD, ["admin"])
    return entra_settings(sqlite_settings, onedrive_emulator)


@pytest.fixture
def client(app_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(app_settings), base_url="http://testserver") as c:
        yield c


def directory_user(emulator: EmulatorProcess, upn: str, **assigned: list[str]) -> None:
    with emulator.admin() as admin:
        admin.post("/users", json={"userPrincipalName": upn}).raise_for_status()
        admin.patch(f"/users/{upn}", json={"appRoles": [], "groups": [],
                                           **assigned}).raise_for_status()


def microsoft_sign_in(client: TestClient, emulator: EmulatorProcess, upn: str,
                      next_: str = "/") -> Any:
    """Press "Sign in with Microsoft", pick ``upn`` on the emulator's page, come back."""
    start = client.get("/login/microsoft", params={"next": next_}, follow_redirects=False)
    assert start.status_code == 303, start.text
    auth_uri = start.headers["location"]
    assert auth_uri.startswith(emulator.authority + "/oauth2/v2.0/authorize?")
    query = {k: v[0] for k, v in parse_qs(urlsplit(auth_uri).query).items()}
    assert query["code_challenge_method"] == "S256" and query["nonce"]
    back = httpx.post(auth_uri.split("?")[0], data={**query, "login": upn},
                      verify=emulator.tls())
    assert back.status_code == 302, back.text
    callback = urlsplit(back.headers["location"])
    assert callback.path == "/auth/callback"
    return client.get(f"{callback.path}?{callback.query}", follow_redirects=False)


def landing(answer: Any) -> str:
    assert answer.status_code == 200, answer.text
    found = re.search(r'content="0;url=([^"]+)"', answer.text)
    assert found, answer.text
    return found.group(1)


def test_the_login_page_offers_microsoft(client: TestClient) -> None:
    page = client.get("/login")
    assert 'href="/login/microsoft?next=/"' in page.text
    assert "Sign in with Microsoft" in page.text and 'name="password"' in page.text
    # The only script is GOV.UK Frontend's start-up, from a file: nothing inline.
    assert re.findall(r"<script[^>]*>", page.text) == [
        '<script type="module" src="/static/govuk-init.js">']


def test_a_records_manager_signs_in(client: TestClient, onedrive_emulator: EmulatorProcess,
                                    app_settings: Settings) -> None:
    upn = "alex1.smith@example.police.uk"
    directory_user(onedrive_emulator, upn, groups=[RECORDS_GROUP, "unmapped-group"])
    answer = microsoft_sign_in(client, onedrive_emulator, upn, next_="/retention")
    assert landing(answer) == "/retention"
    assert client.get("/retention").status_code == 200
    assert client.get("/audit").status_code == 403
    # The web process keeps nobody's tokens (MSAL's cache stays empty).
    assert client.app.state.entra._application().get_accounts() == []  # type: ignore[attr-defined]
    with session_scope(app_settings) as s:
        user = s.scalar(select(auth.User).where(auth.User.username == upn))
        assert user is not None and user.roles == ["records"] and user.oid
        person = s.get(Person, user.person_id)
        assert person is not None and person.number == "100001"


def test_an_officer_signs_in_to_their_own_page(client: TestClient,
                                               onedrive_emulator: EmulatorProcess,
                                               app_settings: Settings) -> None:
    upn = "alex2.smith@example.police.uk"
    directory_user(onedrive_emulator, upn)
    assert landing(microsoft_sign_in(client, onedrive_emulator, upn)) == "/me"
    assert client.get("/").status_code == 403  # the overview needs a staff role
    with session_scope(app_settings) as s:
        user = s.scalar(select(auth.User).where(auth.User.username == upn))
        assert user is not None and user.roles == [] and user.person_id is not None


def test_an_app_role_maps_too_and_the_second_sign_in_is_the_same_login(
        client: TestClient, onedrive_emulator: EmulatorProcess, app_settings: Settings) -> None:
    upn = "alex3.smith@example.police.uk"
    directory_user(onedrive_emulator, upn, appRoles=["Mobilise.Admin"])
    landing(microsoft_sign_in(client, onedrive_emulator, upn))
    directory_user(onedrive_emulator, upn)  # the app role is taken away in Entra
    landing(microsoft_sign_in(client, onedrive_emulator, upn))
    with session_scope(app_settings) as s:
        users = list(s.scalars(select(auth.User).where(auth.User.username == upn)))
        assert len(users) == 1 and users[0].roles == []


def test_a_leaver_is_refused(client: TestClient, onedrive_emulator: EmulatorProcess,
                             app_settings: Settings) -> None:
    upn = "alex0.smith@example.police.uk"
    directory_user(onedrive_emulator, upn, groups=[RECORDS_GROUP])
    with session_scope(app_settings) as s:
        s.execute(update(Person).where(Person.upn == upn).values(status="leaver"))
    answer = microsoft_sign_in(client, onedrive_emulator, upn)
    assert answer.status_code == 401 and "left the organisation" in answer.text
    assert client.get("/retention").status_code == 401


def test_someone_outside_the_register_is_refused(client: TestClient,
                                                 onedrive_emulator: EmulatorProcess) -> None:
    upn = "contractor@example.police.uk"
    directory_user(onedrive_emulator, upn, groups=[RECORDS_GROUP])
    answer = microsoft_sign_in(client, onedrive_emulator, upn)
    assert answer.status_code == 401 and "not in the people register" in answer.text


def test_a_callback_not_started_here_is_refused(client: TestClient,
                                                onedrive_emulator: EmulatorProcess) -> None:
    upn = "alex1.smith@example.police.uk"
    directory_user(onedrive_emulator, upn)
    client.cookies.clear()
    answer = client.get("/auth/callback", params={"code": "x", "state": "y"})
    assert answer.status_code == 401 and "not started here" in answer.text
    # A flow of this browser, and an answer to another sign-in (state differs).
    client.get("/login/microsoft", follow_redirects=False)
    answer = client.get("/auth/callback", params={"code": "x", "state": "forged"})
    assert answer.status_code == 401 and "not started here" in answer.text


def test_an_error_from_microsoft_is_shown(client: TestClient) -> None:
    client.get("/login/microsoft", follow_redirects=False)
    answer = client.get("/auth/callback", params={
        "error": "access_denied", "error_description": "AADSTS65004: User declined"})
    assert answer.status_code == 401 and "AADSTS65004" in answer.text


def test_a_redeemed_code_does_not_sign_in_twice(client: TestClient,
                                                onedrive_emulator: EmulatorProcess) -> None:
    upn = "alex1.smith@example.police.uk"
    directory_user(onedrive_emulator, upn)
    start = client.get("/login/microsoft", follow_redirects=False)
    query = {k: v[0] for k, v in parse_qs(urlsplit(start.headers["location"]).query).items()}
    back = httpx.post(start.headers["location"].split("?")[0], data={**query, "login": upn},
                      verify=onedrive_emulator.tls())
    callback = urlsplit(back.headers["location"])
    flow_cookie = client.cookies.get("mobilise_signin", path="/auth/callback")
    assert landing(client.get(f"{callback.path}?{callback.query}"))
    client.cookies.set("mobilise_signin", str(flow_cookie), path="/auth/callback")
    again = client.get(f"{callback.path}?{callback.query}")
    assert again.status_code == 401 and "AADSTS54005" in again.text


def test_sign_in_with_microsoft_is_off_unless_configured(sqlite_settings: Settings) -> None:
    with TestClient(create_app(sqlite_settings), base_url="http://testserver") as c:
        assert "Sign in with Microsoft" not in c.get("/login").text
        assert c.get("/login/microsoft", follow_redirects=False).status_code == 404
        assert c.get("/auth/callback").status_code == 404


# --- local passwords ----------------------------------------------------------------------
def password_sign_in(client: TestClient, username: str) -> Any:
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    return client.post("/login", data={"username": username, "password": PASSWORD,
                                       "csrf_token": token.group(1), "next": "/"},
                       follow_redirects=False)


def test_local_passwords_can_be_turned_off(app_settings: Settings) -> None:
    off = app_settings.model_copy(update={"local_passwords": False})
    with TestClient(create_app(off), base_url="http://testserver") as c:
        page = c.get("/login")
        assert 'name="password"' not in page.text and "Sign in with Microsoft" in page.text
        refused = c.post("/login", data={"username": "breakglass", "password": PASSWORD,
                                         "csrf_token": "x"})
        assert refused.status_code == 404
        assert c.get("/").status_code == 401


def test_a_password_login_named_by_upn_is_linked_and_a_leaver_refused(
        client: TestClient, app_settings: Settings) -> None:
    with session_scope(app_settings) as s:
        auth.add_user(s, ADMIN, "alex1.smith@example.police.uk", PASSWORD, ["viewer"])
        auth.add_user(s, ADMIN, "alex2.smith@example.police.uk", PASSWORD, ["viewer"])
        s.execute(update(Person).where(Person.number == "100002").values(status="leaver"))
    assert password_sign_in(client, "alex1.smith@example.police.uk").status_code == 303
    assert client.get("/").status_code == 200
    refused = password_sign_in(client, "alex2.smith@example.police.uk")
    assert refused.status_code == 401 and "left the organisation" in refused.text
    with session_scope(app_settings) as s:
        linked = s.scalar(select(auth.User).where(
            auth.User.username == "alex1.smith@example.police.uk"))
        assert linked is not None and linked.person_id is not None
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "user.link")) == 1
