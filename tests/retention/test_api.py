"""The retention API, in-process, with real users and tokens."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mobilise.core import auth
from mobilise.core.db import session_scope
from mobilise.core.settings import Settings
from mobilise.web.api.retention import router
from mobilise.web.app import create_app
from tests.factories import ADMIN, register_people

from .test_rules import EXAMPLE


@pytest.fixture
def api(sqlite_settings: Settings) -> Iterator[tuple[TestClient, dict[str, dict[str, str]]]]:
    headers = {}
    with session_scope(sqlite_settings) as s:
        for name, roles in {"rm1": ["records"], "rm2": ["records"], "viewer": ["viewer"],
                            "auditor": ["auditor"]}.items():
            user = auth.add_user(s, ADMIN, name, "correct horse battery", roles)
            s.flush()
            token = auth.issue_token(s, ADMIN, user, "test")
            headers[name] = {"Authorization": f"Bearer {token}"}
        register_people(s, "p1")
    app = create_app(sqlite_settings)
    app.include_router(router)
    with TestClient(app, base_url="http://testserver") as client:
        yield client, headers


def test_rule_sets_and_holds_over_the_api(api: tuple[TestClient, dict[str, dict[str, str]]],
                                          tmp_path: Path) -> None:
    client, who = api
    text = EXAMPLE.read_text()
    r = client.post("/api/v1/retention/rule-sets", content=text,
                    headers={**who["rm1"], "content-type": "text/plain"})
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "draft"
    bad = client.post("/api/v1/retention/rule-sets", content="rule_set: x\nversion: 1\n",
                      headers={**who["rm1"], "content-type": "text/plain"})
    assert bad.status_code == 422 and "request body:1:1" in bad.text
    denied = client.post("/api/v1/retention/rule-sets", content=text,
                         headers={**who["viewer"], "content-type": "text/plain"})
    assert denied.status_code == 403
    r = client.post("/api/v1/retention/rule-sets/personal-files/1/activate",
                    json={"reason": "approved by the board"}, headers=who["rm2"])
    assert r.json()["status"] == "active" and r.json()["activated_by"] == "rm2"
    listed = client.get("/api/v1/retention/rule-sets", headers=who["auditor"]).json()
    assert [(v["name"], v["status"]) for v in listed] == [("personal-files", "active")]

    r = client.post("/api/v1/retention/holds", headers=who["rm1"], json={
        "reference": "FOI-1", "kind": "foi", "reason": "request 2026/117",
        "folders": [{"person": "p1", "path": "Projects/Castle"}]})
    assert r.status_code == 201, r.text
    assert client.post("/api/v1/retention/holds", headers=who["rm1"], json={
        "reference": "X", "kind": "gossip", "reason": "r", "people": ["p1"]}).status_code == 422
    assert [h["reference"] for h in client.get("/api/v1/retention/holds",
                                               headers=who["auditor"]).json()] == ["FOI-1"]
    client.post("/api/v1/retention/holds/FOI-1/release", json={"reason": "answered"},
                headers=who["rm2"])
    assert client.get("/api/v1/retention/holds", headers=who["rm1"]).json() == []
    assert client.get("/api/v1/retention/disposal-batches", headers=who["rm1"]).json() == []
    assert client.get("/api/v1/retention/holds").status_code == 401


def test_holds_that_protect_nothing_are_422(
        api: tuple[TestClient, dict[str, dict[str, str]]]) -> None:
    client, who = api
    for body in ({"people": ["nobody"]},
                 {"folders": [{"person": "p1@example.police.uk", "path": "../../etc"}]},
                 {"folders": [{"person": "ghost", "path": "Docs"}]}):
        r = client.post("/api/v1/retention/holds", headers=who["rm1"], json={
            "reference": "BAD", "kind": "foi", "reason": "request", **body})
        assert r.status_code == 422, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    r = client.post("/api/v1/retention/holds", headers=who["rm1"], json={
        "reference": "OK", "kind": "foi", "reason": "request",
        "folders": [{"person": "P1@example.police.uk", "path": "Projects\\Castle\\"}]})
    assert r.status_code == 201, r.text
    assert client.get("/api/v1/retention/holds", headers=who["rm1"]).json()[0]["folders"] == [
        {"person": "p1", "path": "Projects/Castle"}]
