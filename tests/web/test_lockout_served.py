"""Parallel wrong passwords against a served app (uvicorn in its own process), on SQLite
and PostgreSQL: every failure counts, so the lock-out happens."""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from mobilise.core import auth
from mobilise.core.audit import AuditEntry
from mobilise.core.db import session_scope
from mobilise.core.settings import Settings
from tests.factories import ADMIN

PASSWORD = "correct horse battery"
PARALLEL = 40


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served(settings: Settings, tmp_path: Path) -> Iterator[str]:
    """``settings``' database served by uvicorn in a process of its own; the lock-out
    after exactly PARALLEL failures, no address block (what is tested is the count)."""
    with session_scope(settings) as s:
        auth.add_user(s, ADMIN, "target", PASSWORD, ["viewer"])
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOBILISE_")}
    env.update({"MOBILISE_DATABASE_URL": settings.database_url,
                "MOBILISE_DATA_DIR": str(tmp_path / "data"),
                "MOBILISE_CONFIG": str(tmp_path / "none.toml"),
                "MOBILISE_SECRET_KEY": secrets.token_urlsafe(48),
                "MOBILISE_LOGIN_ATTEMPTS": str(PARALLEL),
                "MOBILISE_LOGIN_ADDRESS_ATTEMPTS": "100000",
                "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)})
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "mobilise.web.app:app_from_environment", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"], env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert process.poll() is None, "the server stopped"
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


def _attempt(url: str, password: str, start: threading.Barrier | None = None) -> httpx.Response:
    with httpx.Client(base_url=url, timeout=120) as client:
        form = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token
        if start is not None:
            start.wait(60)  # every request leaves together
        return client.post("/login", data={"username": "target", "password": password,
                                           "csrf_token": token.group(1), "next": "/"})


def test_parallel_wrong_passwords_all_count(served: str, settings: Settings) -> None:
    start = threading.Barrier(PARALLEL)
    with ThreadPoolExecutor(PARALLEL) as pool:
        answers = list(pool.map(lambda _: _attempt(served, "wrong password!", start),
                                range(PARALLEL)))
    assert [r.status_code for r in answers] == [401] * PARALLEL
    assert all("wrong username or password" in r.text for r in answers)
    # Exactly PARALLEL failures lock the username: none was lost.
    right = _attempt(served, PASSWORD)
    assert right.status_code == 401
    assert "too many failed attempts" in right.text
    with session_scope(settings) as s:
        failed = s.scalar(select(func.count()).select_from(AuditEntry)
                          .where(AuditEntry.action == "user.login_failed"))
        assert failed == PARALLEL
        counts = sorted(e.after["failures"]["account"] for e in s.scalars(
            select(AuditEntry).where(AuditEntry.action == "user.login_failed")))
        assert counts == list(range(1, PARALLEL + 1))
