"""Secrets never reach logs: sign-in, API tokens, database URLs with passwords, SMB
passwords and the Graph client secret go through the app with every logger at DEBUG, and
no captured record (message or traceback) holds one. The raw records are checked first,
without the mask of core.logs, so a library that logs a secret is found, not hidden; then
the real entry point (the CLI at MOBILISE_LOG_LEVEL=debug) and the mask itself."""

from __future__ import annotations

import logging
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from mobilise.core import auth, logs
from mobilise.core.db import make_engine, session_scope
from mobilise.core.errors import MobiliseError
from mobilise.core.settings import Settings
from mobilise.emulator.server import register_default_app
from mobilise.graph import GraphClient, Pacer
from mobilise.storage.base import AccessDenied
from mobilise.storage.smb import SmbBackend
from mobilise.web.app import create_app
from tests.factories import ADMIN, load_people
from tests.storage.conftest import smb_settings
from tests.storage.onedrive_fixture import emulator_settings, start_emulator

PASSWORD = f"pw-{secrets.token_hex(8)}"
DB_PASSWORD = f"db-{secrets.token_hex(8)}"
SECRET_KEY = f"key-{secrets.token_hex(8)}"
GRAPH_SECRET = f"graph-{secrets.token_hex(8)}"

log = logging.getLogger("tests.secrets")


class Captured(logging.Handler):
    """Every record, formatted with its traceback, as a handler would write it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def assert_clean(self, *secret_values: str, at_least: int = 6) -> None:
        assert len(self.lines) >= at_least, "nothing was logged: the test would prove nothing"
        for value in secret_values:
            leaks = [line[:300] for line in self.lines if value in line]
            assert leaks == [], "a secret reached the log:\n" + "\n".join(leaks)


@pytest.fixture
def raw_logs() -> Iterator[Captured]:
    """Every logger at DEBUG (SQLAlchemy's too, rows and all), records as created: the
    mask of core.logs is set aside."""
    root = logging.getLogger()
    factory = logging.getLogRecordFactory()
    loggers = [root, *(lg for lg in logging.root.manager.loggerDict.values()
                       if isinstance(lg, logging.Logger))]
    levels = {lg: lg.level for lg in loggers}
    logging.setLogRecordFactory(logging.LogRecord)
    captured = Captured()
    root.addHandler(captured)
    for lg in [*loggers, logging.getLogger("sqlalchemy")]:
        lg.setLevel(logging.DEBUG)
    yield captured
    root.removeHandler(captured)
    for lg, level in levels.items():
        lg.setLevel(level)
    logging.setLogRecordFactory(factory)


def with_password(url: str) -> str:
    """The test database's URL with a password for its user (loopback PostgreSQL trusts
    its users, so the password travels through everything and is never refused)."""
    return re.sub(r"://([^:@/]+)@", rf"://\1:{DB_PASSWORD}@", url)


@pytest.fixture
def secret_settings(settings: Settings) -> Iterator[Settings]:
    url = with_password(settings.database_url)
    yield settings.model_copy(update={"database_url": url, "secret_key": SecretStr(SECRET_KEY),
                                      "graph_client_secret": SecretStr(GRAPH_SECRET)})
    make_engine(url).dispose()


def test_sign_in_and_api_tokens_at_debug(secret_settings: Settings, tmp_path: Path,
                                         raw_logs: Captured) -> None:
    with session_scope(secret_settings) as s:
        load_people(s, tmp_path, count=3)
        user = auth.add_user(s, ADMIN, "alice", PASSWORD, ["records"])
        s.flush()
        token = auth.issue_token(s, ADMIN, user, "secrets test")
    with TestClient(create_app(secret_settings)) as client:
        page = client.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf
        wrong = client.post("/login", data={"username": "alice", "password": PASSWORD + "x",
                                            "csrf_token": csrf.group(1)})
        assert wrong.status_code == 401
        signed_in = client.post("/login", data={"username": "alice", "password": PASSWORD,
                                                "csrf_token": csrf.group(1)},
                                follow_redirects=False)
        assert signed_in.status_code == 303
        cookie = client.cookies.get("mobilise_session")
        assert cookie and client.get("/people").status_code == 200
        bearer = {"Authorization": f"Bearer {token}"}
        assert client.get("/api/v1/people", headers=bearer).status_code == 200
        refused = client.get("/api/v1/people", headers={"Authorization": f"Bearer {token}x"})
        assert refused.status_code == 401
    log.debug("settings in use: %r; as text: %s", secret_settings, secret_settings)
    assert "SELECT" in raw_logs.text  # SQLAlchemy logged its statements and parameters
    raw_logs.assert_clean(PASSWORD, token, DB_PASSWORD, SECRET_KEY, GRAPH_SECRET, cookie)


def test_a_database_that_refuses_logs_no_password(raw_logs: Captured) -> None:
    url = f"postgresql+psycopg://mobilise:{DB_PASSWORD}@127.0.0.1:1/mobilise"
    try:
        with make_engine(url).connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        log.exception("the database is unreachable")  # as uvicorn logs a failed request
        assert DB_PASSWORD not in str(exc)
    else:
        pytest.fail("nothing listens on port 1")
    finally:
        make_engine(url).dispose()
    # What proves something here is the failed connection and the logged traceback, not a
    # number of lines: SQLAlchemy 2.1 logs the refusal once (2.0 logged it several times).
    assert "Connection refused" in raw_logs.text
    assert "the database is unreachable" in raw_logs.text
    raw_logs.assert_clean(DB_PASSWORD, at_least=2)


@pytest.mark.smb
def test_smb_passwords_at_debug(raw_logs: Captured) -> None:
    options = smb_settings()
    with SmbBackend(**options) as share:
        list(share.list(""))
    try:
        SmbBackend(**{**options, "password": PASSWORD})
    except AccessDenied as exc:
        log.exception("the share refused us")
        assert PASSWORD not in str(exc)
    else:
        pytest.fail("a wrong SMB password was accepted")
    assert "smbprotocol" in raw_logs.text or "spnego" in raw_logs.text
    raw_logs.assert_clean(options["password"], PASSWORD)


def test_graph_client_secret_at_debug(tmp_path: Path, raw_logs: Captured) -> None:
    root = tmp_path / "emulator"
    register_default_app(root, "secrets-app", GRAPH_SECRET)
    emulator = start_emulator(root)
    try:
        settings = emulator_settings(emulator, graph_client_id="secrets-app",
                                     graph_client_secret=GRAPH_SECRET)
        with GraphClient(settings, pacer=Pacer(600_000)) as client:
            access = client.tokens.token()
            client.get_json("/users")
        wrong = settings.model_copy(update={"graph_client_secret": SecretStr(PASSWORD)})
        with GraphClient(wrong, pacer=Pacer(600_000)) as client:
            try:
                client.get_json("/users")
            except MobiliseError as exc:
                log.exception("Graph refused the app")
                assert PASSWORD not in str(exc)
            else:
                pytest.fail("a wrong client secret was accepted")
    finally:
        emulator.stop()
    raw_logs.assert_clean(GRAPH_SECRET, PASSWORD, access)


def test_entra_client_secret_at_debug(sqlite_settings: Settings, tmp_path: Path,
                                      raw_logs: Captured) -> None:
    from fastapi.testclient import TestClient

    from tests.web.test_entra_sign_in import directory_user, microsoft_sign_in

    root = tmp_path / "emulator"
    register_default_app(root, "entra-secrets", GRAPH_SECRET)
    emulator = start_emulator(root)
    try:
        with session_scope(sqlite_settings) as s:
            load_people(s, tmp_path, count=2)
        directory_user(emulator, "alex1.smith@example.police.uk")
        settings = sqlite_settings.model_copy(update={
            "entra_authority": emulator.authority, "entra_client_id": "entra-secrets",
            "entra_client_secret": SecretStr(GRAPH_SECRET), "entra_ca_bundle": emulator.ca})
        with TestClient(create_app(settings), base_url="http://testserver") as client:
            answer = microsoft_sign_in(client, emulator, "alex1.smith@example.police.uk")
            assert answer.status_code == 200
        wrong = settings.model_copy(update={"entra_client_secret": SecretStr(PASSWORD)})
        with TestClient(create_app(wrong), base_url="http://testserver") as client:
            answer = microsoft_sign_in(client, emulator, "alex1.smith@example.police.uk")
            assert answer.status_code == 401 and "AADSTS7000215" in answer.text
            log.error("sign-in refused: %s", answer.text)
    finally:
        emulator.stop()
    raw_logs.assert_clean(GRAPH_SECRET, PASSWORD)


def test_the_cli_at_debug_logs_no_secret(settings: Settings, tmp_path: Path) -> None:
    """The real entry point: ``mobilise`` with MOBILISE_LOG_LEVEL=debug adds a login,
    issues a token (shown once, on stdout) and reads the database through a URL with a
    password; its log (stderr) is full of DEBUG lines and free of every secret."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOBILISE_")}
    env.update({"MOBILISE_DATABASE_URL": with_password(settings.database_url),
                "MOBILISE_CONFIG": str(tmp_path / "none.toml"),
                "MOBILISE_SECRET_KEY": SECRET_KEY, "MOBILISE_GRAPH_CLIENT_SECRET": GRAPH_SECRET,
                "MOBILISE_SMB_PASSWORD": PASSWORD + "smb", "MOBILISE_NEW_PASSWORD": PASSWORD,
                "MOBILISE_LOG_LEVEL": "debug"})

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, "-m", "mobilise.cli.main", *args], env=env,
                              cwd=tmp_path, capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stderr[-2000:]
        return done

    outputs = [run("users", "add", "alice", "--roles", "records"),
               run("users", "token", "alice"), run("config", "show"), run("users", "list")]
    token = outputs[1].stdout.strip()
    assert token.startswith(auth.TOKEN_PREFIX)
    stderr = "\n".join(o.stderr for o in outputs)
    assert "INFO sqlalchemy.engine" in stderr and "INSERT INTO" in stderr
    with make_engine(env["MOBILISE_DATABASE_URL"]).connect() as conn:
        password_hash = conn.execute(text(
            "SELECT password_hash FROM app_user WHERE username = 'alice'")).scalar_one()
    make_engine(env["MOBILISE_DATABASE_URL"]).dispose()
    for value in (PASSWORD, token, DB_PASSWORD, SECRET_KEY, GRAPH_SECRET,
                  password_hash.split("$")[-1]):
        assert value not in stderr
        assert value not in outputs[2].stdout  # config show masks them too


def test_the_mask_covers_what_slips_through(settings: Settings,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Should a library log a secret one day, the record factory masks it for every
    handler: settings' secrets, URL passwords, Bearer credentials, API tokens."""
    monkeypatch.setattr(logs, "_known", set())  # installed for this test only
    monkeypatch.setattr(logs, "_base_factory", None)
    monkeypatch.setattr(logging, "_logRecordFactory", logging.getLogRecordFactory())
    configured = settings.model_copy(update={
        "secret_key": SecretStr(SECRET_KEY), "graph_client_secret": SecretStr(GRAPH_SECRET)})
    logs.install_redaction(configured)
    captured = Captured()
    logger = logging.getLogger("tests.secrets.mask")
    logger.addHandler(captured)
    logger.setLevel(logging.DEBUG)
    try:
        logger.debug("key %s secret %s", SECRET_KEY, GRAPH_SECRET)
        logger.debug("url postgresql://app:%s@db/x and redis://:%s@r:6379/0", DB_PASSWORD,
                     DB_PASSWORD)
        logger.debug("GET /api/v1/people Authorization: Bearer %s", PASSWORD)
        logger.debug("issued mob_%s", secrets.token_urlsafe(32))
        logger.debug("form username=alice&password=%s&client_secret=%s", PASSWORD, PASSWORD)
        try:
            raise RuntimeError(f"cannot connect to postgresql://app:{DB_PASSWORD}@db/x")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(captured)
    for value in (SECRET_KEY, GRAPH_SECRET, DB_PASSWORD, PASSWORD, "mob_"):
        assert value not in captured.text
    assert captured.text.count(logs.MASK) >= 8
    assert "username=alice" in captured.text  # what is not a secret stays readable


def test_settings_repr_masks_passwords_and_secrets() -> None:
    s = Settings(database_url=f"postgresql+psycopg://app:{DB_PASSWORD}@db/mobilise",
                 broker_url=f"redis://:{DB_PASSWORD}@redis:6379/0", secret_key=SECRET_KEY,
                 graph_client_secret=GRAPH_SECRET, smb_password=PASSWORD,
                 smtp_password=PASSWORD)
    for shown in (repr(s), str(s), f"{s!r}", str(s.masked())):
        for value in (DB_PASSWORD, SECRET_KEY, GRAPH_SECRET, PASSWORD):
            assert value not in shown
    assert "postgresql+psycopg://app:********@db/mobilise" in repr(s)
