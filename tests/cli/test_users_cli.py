"""``mobilise users`` lifecycle commands, ``mobilise serve``'s refusal of a published or
short secret, and the demo's own secret."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from mobilise.cli import context
from mobilise.cli.users import app
from mobilise.core import auth
from mobilise.core.audit import AuditEntry
from mobilise.core.db import session_scope
from mobilise.core.errors import Conflict, InvalidInput, NotFound
from mobilise.core.settings import DEFAULT_SECRET, Settings, secret_problem
from mobilise.demo.run import demo_secret
from tests.factories import load_people

runner = CliRunner()
PASSWORD = "correct horse battery"


@pytest.fixture
def cli_db(sqlite_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
           ) -> Iterator[Settings]:
    monkeypatch.setenv("MOBILISE_DATABASE_URL", sqlite_settings.database_url)
    monkeypatch.setenv("MOBILISE_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("MOBILISE_NEW_PASSWORD", PASSWORD)
    context.settings.cache_clear()
    yield sqlite_settings
    context.settings.cache_clear()


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_users_lifecycle_from_the_cli(cli_db: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    invoke("add", "alice", "--roles", "records")
    token = invoke("token", "alice", "--name", "laptop").strip()
    invoke("disable", "alice", "--reason", "left the team")
    listed = json.loads(invoke("list", "-f", "json"))
    assert listed == [{"username": "alice", "name": "alice", "roles": "records",
                       "active": False, "person": None, "entra": False, "tokens": 1}]
    with session_scope(cli_db) as s, pytest.raises(Exception, match="invalid or revoked"):
        auth.user_for_token(s, token)
    invoke("enable", "alice")
    monkeypatch.setenv("MOBILISE_NEW_PASSWORD", "another long password")
    invoke("passwd", "alice")
    assert "alice: auditor,records" in invoke("roles", "alice", "--set", "records,auditor")
    with pytest.raises(InvalidInput):
        runner.invoke(app, ["roles", "alice", "--set", "chief"], catch_exceptions=False)
    tokens = json.loads(invoke("tokens", "alice", "-f", "json"))
    assert [(t["name"], t["revoked_at"]) for t in tokens] == [("laptop", None)]
    assert token not in json.dumps(tokens)
    revoked = json.loads(invoke("tokens", "alice", "--revoke", str(tokens[0]["id"]), "-f", "json"))
    assert revoked[0]["revoked_at"] is not None
    with pytest.raises(NotFound):
        runner.invoke(app, ["tokens", "alice", "--revoke", "999"], catch_exceptions=False)
    with session_scope(cli_db) as s:
        alice = auth.get_user(s, "alice")
        assert auth.authenticate(s, "alice", "another long password").username == "alice"
        actions = s.scalars(select(AuditEntry.action).where(
            AuditEntry.actor.like("cli:%")).order_by(AuditEntry.seq)).all()
        assert alice.active and alice.session_epoch == 4
    assert actions == ["user.add", "token.issue", "user.disable", "user.enable",
                       "user.password", "user.roles", "token.revoke"]


def test_link_and_unlink_a_login_from_the_cli(cli_db: Settings, tmp_path: Path) -> None:
    with session_scope(cli_db) as s:
        load_people(s, tmp_path, count=3)
    invoke("add", "desk1", "--roles", "service-desk")
    assert "desk1 is person 100002" in invoke("link", "desk1", "alex2.smith@example.police.uk")
    assert "desk1 is person 100002" in invoke("link", "desk1", "100002")  # again: no change
    with pytest.raises(Conflict, match="unlink it first"):
        runner.invoke(app, ["link", "desk1", "100001"], catch_exceptions=False)
    with pytest.raises(NotFound, match="no person"):
        runner.invoke(app, ["link", "desk1", "nobody"], catch_exceptions=False)
    listed = json.loads(invoke("list", "-f", "json"))
    assert listed[0]["person"] == "100002"
    assert "linked to no person" in invoke("unlink", "desk1")
    with session_scope(cli_db) as s:
        assert auth.get_user(s, "desk1").person_id is None
        actions = s.scalars(select(AuditEntry.action).where(
            AuditEntry.action.in_(["user.link", "user.unlink"])).order_by(AuditEntry.seq)).all()
    assert actions == ["user.link", "user.unlink"]


def test_secret_problems() -> None:
    assert "default" in (secret_problem(Settings(secret_key=DEFAULT_SECRET)) or "")
    assert "32" in (secret_problem(Settings(secret_key="short-secret")) or "")
    assert secret_problem(Settings(secret_key="x" * 32)) is None


def test_serve_refuses_the_default_secret(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOBILISE_")}
    env.update({"MOBILISE_DATABASE_URL": f"sqlite:///{tmp_path / 'm.db'}",
                "MOBILISE_CONFIG": str(tmp_path / "none.toml")})
    for secret in (None, "too-short"):
        if secret:
            env["MOBILISE_SECRET_KEY"] = secret
        # A port that is never listened on: the refusal comes before anything starts.
        result = subprocess.run([sys.executable, "-m", "mobilise.cli.main", "serve", "--port",
                                 "1"], env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode != 0
        assert "MOBILISE_SECRET_KEY" in result.stderr
        assert "Mobilise on http" not in result.stdout


def test_the_demo_makes_its_own_secret_once(tmp_path: Path) -> None:
    first = demo_secret(tmp_path / "demo-data")
    assert len(first) >= 32 and first != DEFAULT_SECRET
    path = tmp_path / "demo-data" / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert demo_secret(tmp_path / "demo-data") == first  # sign-ins survive a restart
    assert secret_problem(Settings(secret_key=first)) is None
    assert demo_secret(tmp_path / "elsewhere") != first
