from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilise.comms import templates
from mobilise.core import audit, auth
from mobilise.core.db import session_scope
from mobilise.core.settings import Settings
from mobilise.people.models import Person, Site
from mobilise.rollout import appointments
from mobilise.rollout.models import Appointment
from mobilise.web.app import create_app
from tests.factories import ADMIN, load_people

PASSWORD = "correct horse battery"


@dataclass
class Web:
    app: FastAPI
    client: TestClient
    tokens: dict[str, str]
    settings: Settings

    def as_(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def login(self, username: str, password: str = PASSWORD) -> Any:
        page = self.client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token
        return self.client.post("/login", data={"username": username, "password": password,
                                                "csrf_token": token.group(1), "next": "/"},
                                follow_redirects=False)

    def csrf(self) -> str:
        page = self.client.get("/")
        found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert found
        return found.group(1)


USERS = {
    "admin": ["admin"], "viewer": ["viewer"], "programme": ["programme"],
    "auditor": ["auditor"], "norole": [],
    "person": [],  # no staff role, linked to person 100001: the self-service pages
}


@pytest.fixture
def web(sqlite_settings: Settings, tmp_path: Path) -> Iterator[Web]:
    tokens = {}
    with session_scope(sqlite_settings) as s:
        load_people(s, tmp_path, count=12)
        for name, roles in USERS.items():
            user = auth.add_user(s, ADMIN, name, PASSWORD, roles)
            s.flush()
            tokens[name] = auth.issue_token(s, ADMIN, user, "test")
        link_person(s, "person", "100001")
        seed_rollout(s)
    app = create_app(sqlite_settings)
    with TestClient(app, base_url="http://testserver") as client:
        yield Web(app, client, tokens, sqlite_settings)


def link_person(s: Session, username: str, number: str) -> None:
    """Link a login to a person (what Entra sign-in does for a work account)."""
    user = auth.get_user(s, username)
    person = s.scalar(select(Person).where(Person.number == number))
    assert person is not None
    with audit.change(s, ADMIN, "user.link_person", user):
        user.person_id = person.id


def seed_rollout(s: Session) -> None:
    """Default templates and an appointment with id 100001 for the path-parameter GETs."""
    templates.ensure_defaults(s, ADMIN)
    site = s.scalar(select(Site).where(Site.code == "CE-01"))
    person = s.scalar(select(Person).where(Person.number == "100001"))
    assert site is not None and person is not None
    appointments.open_places(s, site.id, [date(2023, 1, 10)], capacity=5)
    appointments.take_place(s, site.id, date(2023, 1, 10))
    audit.create(s, ADMIN, "appointment.book", Appointment(
        id=100001, person_id=person.id, site_id=site.id, day=date(2023, 1, 10),
        status="booked"))


def all_routes(app: FastAPI) -> list[APIRoute]:
    """Every endpoint, including those behind lazily included routers."""
    found: list[APIRoute] = []

    def walk(routes: list[Any]) -> None:
        for r in routes:
            if isinstance(r, APIRoute):
                found.append(r)
            elif hasattr(r, "original_router"):
                walk(r.original_router.routes)
            elif hasattr(r, "routes") and not hasattr(r, "app"):
                walk(r.routes)

    walk(list(app.router.routes))
    return found
