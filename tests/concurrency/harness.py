"""The concurrency harness: the real app served by uvicorn on a loopback port, and N
requests fired at it at once from N threads, each on its own connection.

``fire`` releases every thread through one barrier, so the requests reach the server
together and the app's worker threads run them interleaved; the outcome is read from
the answers and from the audit log, not from timing."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from sqlalchemy import func, select

from mobilise.core.audit import AuditEntry
from mobilise.core.db import session_scope
from mobilise.core.settings import Settings
from mobilise.web.app import create_app


@dataclass(frozen=True)
class Call:
    """One request: who sends it and what."""

    token: str
    method: str
    path: str
    json: Any = None
    content: bytes | None = None
    files: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Answer:
    status: int
    body: str


@contextmanager
def serve(settings: Settings) -> Iterator[str]:
    """Serve ``create_app(settings)`` on a free loopback port until the block ends."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                            log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="served-app", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the app did not start serving")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def fire(base_url: str, calls: Sequence[Call]) -> list[Answer]:
    """Send every call at once, each from its own thread on its own connection."""
    barrier = threading.Barrier(len(calls))

    def send(call: Call) -> Answer:
        with httpx.Client(base_url=base_url, timeout=120) as client:
            headers = {"Authorization": f"Bearer {call.token}", **call.headers}
            client.get("/healthz")  # connected before the race starts
            barrier.wait()
            r = client.request(call.method, call.path, json=call.json, content=call.content,
                               files=call.files, headers=headers)
            return Answer(r.status_code, r.text)

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(send, calls))


def audit_count(settings: Settings, action: str, entity_id: str | None = None) -> int:
    """How many audit entries record ``action`` (on ``entity_id``, when given)."""
    with session_scope(settings) as s:
        query = select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)
        if entity_id is not None:
            query = query.where(AuditEntry.entity_id == entity_id)
        return int(s.scalar(query) or 0)


def audit_ids(settings: Settings, action: str) -> list[str]:
    """The entity ids of every audit entry recording ``action``, in order."""
    with session_scope(settings) as s:
        return [str(i) for i in s.scalars(select(AuditEntry.entity_id).where(
            AuditEntry.action == action).order_by(AuditEntry.seq))]


def one_winner(answers: Sequence[Answer]) -> Answer:
    """Exactly one answer succeeded and every other one is a 409 conflict: the winner."""
    won = [a for a in answers if 200 <= a.status < 300]
    lost = [a for a in answers if a.status == 409]
    assert len(won) == 1, [(a.status, a.body[:200]) for a in answers]
    assert len(lost) == len(answers) - 1, [(a.status, a.body[:200]) for a in answers]
    return won[0]
