"""A write is committed before it is acknowledged (tracker #17, item 5).

The server here is uvicorn on loopback, as in production: the commit must have happened
before the first byte of the answer, so a client can always read back what it was told
was written, and a commit the database refuses is answered 409, not 200."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import Depends, FastAPI
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.types import Message, Receive, Scope, Send

from mobilise.core import audit, auth
from mobilise.core.actor import Actor, Role
from mobilise.core.db import session_scope
from mobilise.core.settings import Settings
from mobilise.people.models import Person
from mobilise.retention.models import Hold
from mobilise.web.app import create_app
from mobilise.web.auth import db, requires
from tests.factories import ADMIN, ROSTER_HEADER, load_people, person_row, write_csv
from tests.web.conftest import all_routes


@dataclass
class Probe:
    """Wraps the app: when the answer to a write starts, runs ``look`` (a read from a
    connection of its own) and keeps what it saw."""

    app: Any
    look: Callable[[], Any] = lambda: None
    seen: list[Any] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] == "GET":
            await self.app(scope, receive, send)
            return

        async def probing(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.seen.append(self.look())
            await send(message)

        await self.app(scope, receive, probing)


@dataclass
class Served:
    url: str
    token: str
    probe: Probe
    settings: Settings

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30,
                            headers={"Authorization": f"Bearer {self.token}"})


def serve(app: Any) -> Iterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def _conflicting(session: Session = Depends(db, scope="function"),
                 actor: Actor = Depends(requires(Role.ADMIN))) -> dict[str, str]:
    """A write the database refuses only at the commit: a second person with a UPN
    already taken (nothing checks it first)."""
    unit = session.scalar(select(Person.org_unit_id).limit(1))
    audit.create(session, actor, "person.add", Person(
        number="999999", first_name="Dup", last_name="Licate", kind="officer",
        org_unit_id=unit, upn="alex1.smith@example.police.uk", email="dup@example.police.uk"))
    return {"status": "created"}


@pytest.fixture
def served(settings: Settings, tmp_path: Path) -> Iterator[Served]:
    with session_scope(settings) as s:
        load_people(s, tmp_path, count=6)
        user = auth.add_user(s, ADMIN, "admin", "a long enough password", ["admin"])
        s.flush()
        token = auth.issue_token(s, ADMIN, user, "test")
    app = create_app(settings)
    app.add_api_route("/api/v1/test/conflict", _conflicting, methods=["POST"])
    probe = Probe(app)
    for url in serve(probe):
        yield Served(url, token, probe, settings)


def _holds(settings: Settings, reference: str) -> int:
    with session_scope(settings) as s:
        return s.scalar(select(func.count()).select_from(Hold)
                        .where(Hold.reference == reference)) or 0


def test_every_route_commits_before_answering() -> None:
    """A route declaring the session with the default (request) scope would get its own
    session, committed after the answer was sent."""
    app: FastAPI = create_app(Settings(database_url="sqlite:///:memory:"))
    wrong = []
    for route in all_routes(app):
        stack = list(route.dependant.dependencies)
        while stack:
            dep = stack.pop()
            stack.extend(dep.dependencies)
            if dep.call is db and dep.scope != "function":
                wrong.append(route.path)
    assert wrong == []


def test_a_created_hold_is_in_the_database_when_the_answer_starts(served: Served) -> None:
    current: list[str] = []
    served.probe.look = lambda: _holds(served.settings, current[0]) if current else None
    with served.client() as client:
        for n in range(8):
            reference = f"LIT-{n}"
            current[:] = [reference]
            answer = client.post("/api/v1/retention/holds", json={
                "reference": reference, "kind": "litigation", "reason": "claim",
                "people": ["100001"]})
            assert answer.status_code == 201, answer.text
            # Read back at once, from another connection, as a client would.
            assert _holds(served.settings, reference) == 1
    # And already committed when the first byte of each answer left the server.
    assert served.probe.seen == [1] * 8


def test_roster_swapping_two_upns_is_applied(served: Served, tmp_path: Path) -> None:
    rows = [person_row(i) for i in range(6)]
    upn = ROSTER_HEADER.index("upn")
    rows[1][upn], rows[2][upn] = rows[2][upn], rows[1][upn]
    path = write_csv(tmp_path / "swap.csv", ROSTER_HEADER, rows)
    with served.client() as client:
        answer = client.post("/api/v1/people/import",
                             files={"file": ("swap.csv", path.read_bytes(), "text/csv")})
    assert answer.status_code == 200, answer.text
    assert sorted(answer.json()["changed"]) == ["100001", "100002"]
    with session_scope(served.settings) as s:
        upns = dict(s.execute(select(Person.number, Person.upn)
                              .where(Person.number.in_(["100001", "100002"]))).all())
        assert upns == {"100001": "alex2.smith@example.police.uk",
                        "100002": "alex1.smith@example.police.uk"}
        # The log records the real change, never the placeholder used on the way.
        entries = s.scalars(select(audit.AuditEntry)
                            .where(audit.AuditEntry.action == "person.update")).all()
        moves = sorted((e.before or {}).get("upn", "") + " -> " + (e.after or {}).get("upn", "")
                       for e in entries)
        assert moves == ["alex1.smith@example.police.uk -> alex2.smith@example.police.uk",
                         "alex2.smith@example.police.uk -> alex1.smith@example.police.uk"]
        assert all("~moving~" not in str(e.after) for e in entries)
        audit.verify(s)


def test_a_constraint_refused_at_commit_is_409_naming_the_rows(served: Served) -> None:
    with served.client() as client:
        answer = client.post("/api/v1/test/conflict")
    assert answer.status_code == 409, answer.text
    problem = answer.json()
    assert "person" in problem["detail"] and "upn" in problem["detail"]
    assert "alex1.smith@example.police.uk" in problem["detail"]
    assert problem["errors"] == [{"table": "person", "id": problem["errors"][0]["id"],
                                  "column": "person.upn",
                                  "value": "alex1.smith@example.police.uk"}]
    with session_scope(served.settings) as s:
        assert s.scalar(select(Person).where(Person.number == "999999")) is None
