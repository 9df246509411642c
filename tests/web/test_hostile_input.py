"""Hostile or dirty input at the API (tracker #17), on SQLite and PostgreSQL: a NUL in a
query string or path, documents nested 3,000 deep, values longer than their columns, a
template that would render a gigabyte, a mass-leaver roster. Each is a 422 (problem+json)
and changes nothing; never a 500."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from mobilise.core import auth
from mobilise.core.db import session_scope
from mobilise.core.settings import Settings
from mobilise.people.models import Person
from mobilise.web.app import create_app
from tests.factories import (
    ADMIN,
    ROSTER_HEADER,
    load_people,
    person_row,
    write_csv,
)

DEEP = "[" * 3000 + "]" * 3000


@pytest.fixture
def api(settings: Settings, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, dict]]]:
    headers = {}
    with session_scope(settings) as s:
        load_people(s, tmp_path, count=40)
        for name, roles in {"viewer": ["viewer"], "rm": ["records"],
                            "programme": ["programme"]}.items():
            user = auth.add_user(s, ADMIN, name, "correct horse battery", roles)
            s.flush()
            headers[name] = {"Authorization": f"Bearer {auth.issue_token(s, ADMIN, user, 't')}"}
    with TestClient(create_app(settings), base_url="http://testserver") as client:
        yield client, headers


def _is_422(r: object) -> None:
    assert r.status_code == 422, r.text  # type: ignore[attr-defined]
    assert r.headers["content-type"].startswith("application/problem+json")  # type: ignore[attr-defined]


def test_a_nul_in_a_query_or_path_is_422(api: tuple[TestClient, dict[str, dict]]) -> None:
    client, who = api
    for url in ["/api/v1/people?q=Ow%00en", "/api/v1/people?q=%00", "/api/v1/people/1000%0001",
                "/api/v1/people?org_unit=C%00E", "/api/v1/retention/review/items?person=%00"]:
        r = client.get(url, headers=who["viewer"] if "people" in url else who["rm"])
        _is_422(r)
        assert "control character (U+0000)" in r.json()["detail"]
    ordinary = client.get("/api/v1/people?q=alex7.smith", headers=who["viewer"]).json()
    assert [p["number"] for p in ordinary["items"]] == ["100007"]


def test_documents_nested_3000_deep_are_422(api: tuple[TestClient, dict[str, dict]]) -> None:
    client, who = api
    rule_set = f"rule_set: deep\nversion: 1\nrules: {DEEP}\n"
    r = client.post("/api/v1/retention/rule-sets", content=rule_set,
                    headers={**who["rm"], "content-type": "text/plain"})
    _is_422(r)
    assert "nested deeper than 64 levels" in r.text
    r = client.post("/api/v1/retention/holds", headers=who["rm"], json={
        "reference": "DEEP", "kind": "foi", "reason": "r", "selector": DEEP})
    _is_422(r)
    assert "nested deeper than 64 levels" in r.text
    r = client.post("/api/v1/retention/holds", headers={**who["rm"], "content-type":
                                                        "application/json"},
                    content='{"reference": "J", "kind": "foi", "reason": "r", "people": '
                            + DEEP + "}")
    assert r.status_code in (400, 422), r.text
    assert client.get("/api/v1/retention/holds", headers=who["rm"]).json() == []


def test_too_long_and_mass_leaver_rosters_are_422(api: tuple[TestClient, dict[str, dict]],
                                                  settings: Settings, tmp_path: Path) -> None:
    client, who = api
    rows = [person_row(i) for i in range(40)]
    rows[3][1] = "A" * 5000
    long = write_csv(tmp_path / "long.csv", ROSTER_HEADER, rows)
    with long.open("rb") as fh:
        r = client.post("/api/v1/people/import", headers=who["programme"],
                        files={"file": ("long.csv", fh, "text/csv")})
    _is_422(r)
    assert any(":5:2: first_name: 5,000 characters; at most 100" in e
               for e in r.json()["errors"])
    short = write_csv(tmp_path / "short.csv", ROSTER_HEADER, [person_row(i) for i in range(30)])
    with short.open("rb") as fh:
        r = client.post("/api/v1/people/import", headers=who["programme"],
                        files={"file": ("short.csv", fh, "text/csv")})
    _is_422(r)
    assert "allow_mass_leavers=true" in r.json()["detail"]
    with session_scope(settings) as s:
        assert s.scalar(select(func.count()).select_from(Person)
                        .where(Person.status == "leaver")) == 0
    with short.open("rb") as fh:
        r = client.post("/api/v1/people/import?allow_mass_leavers=true",
                        headers=who["programme"], files={"file": ("short.csv", fh, "text/csv")})
    assert r.status_code == 200, r.text
    assert len(r.json()["leavers"]) == 10


def test_a_template_bomb_is_422_at_save(api: tuple[TestClient, dict[str, dict]]) -> None:
    client, who = api
    r = client.post("/api/v1/comms/templates/invitation", headers=who["programme"],
                    json={"subject": "Your phone", "body": "{{ 'A' * 1000000000 }}"})
    _is_422(r)
    assert "at most 500,000" in r.json()["detail"]
