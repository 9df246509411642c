from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from mobilise.core import auth
from mobilise.core.db import session_scope
from mobilise.core.settings import Settings
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
    app = create_app(sqlite_settings)
    with TestClient(app, base_url="http://testserver") as client:
        yield Web(app, client, tokens, sqlite_settings)


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
