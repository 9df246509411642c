"""Shared fixtures. Database tests run on SQLite and on PostgreSQL (started by
script/test, URL in MOBILISE_TEST_PG_URL). A missing PostgreSQL fails, never skips."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

import mobilise.models  # noqa: F401  (every model mapped before the first flush)
from mobilise.core.db import make_engine, session_factory
from mobilise.core.settings import Settings
from mobilise.schema import upgrade_schema
from tests.devices.fleet import Fleet, build_fleet
from tests.smtp import SmtpServer, running_smtp_server

PG_ENV = "MOBILISE_TEST_PG_URL"
# The tests build their own settings: a mobilise.toml in the working folder (script/demo
# writes one) must not leak into them, here or in the CLI processes they start.
os.environ["MOBILISE_CONFIG"] = str(Path(__file__).parent / "no-such-mobilise.toml")


def pg_admin_url() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.fail(f"{PG_ENV} is not set: run the suite through script/test, which starts "
                    "PostgreSQL on loopback")
    return url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade_schema(Settings(database_url=f"sqlite:///{path}"))
    make_engine(f"sqlite:///{path}").dispose()
    return path


@pytest.fixture(scope="session")
def pg_template() -> str:
    """A migrated template database; each test clones it (fast) and drops its clone."""
    admin = pg_admin_url()
    name = f"mobilise_template_{uuid.uuid4().hex[:8]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.rsplit("/", 1)[0] + f"/{name}"
    upgrade_schema(Settings(database_url=url))
    make_engine(url).dispose()
    yield name
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    engine.dispose()


def _pg_clone(template: str) -> tuple[str, str]:
    admin = pg_admin_url()
    name = f"mobilise_t_{uuid.uuid4().hex[:10]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    engine.dispose()
    return name, admin.rsplit("/", 1)[0] + f"/{name}"


def _pg_drop(name: str) -> None:
    engine = create_engine(pg_admin_url(), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


# A test reads its own changes at once: no page shows figures from before a change (what
# a served app does for web_aggregates_stale_seconds is tested in tests/web/test_warm.py).
EXACT = {"web_aggregates_stale_seconds": 0}


@pytest.fixture(params=["sqlite", "postgres"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """Settings on a freshly migrated database, once per backend."""
    data = tmp_path / "data"
    if request.param == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        db = tmp_path / "mobilise.db"
        shutil.copy(template, db)
        url = f"sqlite:///{db}"
        yield Settings(database_url=url, data_dir=data, home_root=data / "home", **EXACT)
        make_engine(url).dispose()
    else:
        name, url = _pg_clone(request.getfixturevalue("pg_template"))
        yield Settings(database_url=url, data_dir=data, home_root=data / "home", **EXACT)
        make_engine(url).dispose()
        _pg_drop(name)


@pytest.fixture
def sqlite_settings(sqlite_template: Path, tmp_path: Path) -> Iterator[Settings]:
    """For tests about behaviour that does not depend on the database engine."""
    db = tmp_path / "mobilise.db"
    shutil.copy(sqlite_template, db)
    url = f"sqlite:///{db}"
    data = tmp_path / "data"
    yield Settings(database_url=url, data_dir=data, home_root=data / "home", **EXACT)
    make_engine(url).dispose()


@pytest.fixture
def session(settings: Settings) -> Iterator[Session]:
    s = session_factory(settings)()
    yield s
    s.rollback()
    s.close()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) on a free loopback port, recording each message."""
    with running_smtp_server() as server:
        yield server


# The handset fleet, shared by the devices, rollout and finance tests.
@pytest.fixture
def fleet(settings: Settings, session: Session, tmp_path: Path) -> Fleet:
    return build_fleet(session, settings, tmp_path)


@pytest.fixture
def sqlite_fleet(sqlite_settings: Settings, tmp_path: Path) -> Iterator[Fleet]:
    s = session_factory(sqlite_settings)()
    yield build_fleet(s, sqlite_settings, tmp_path)
    s.rollback()
    s.close()


@pytest.fixture(autouse=True)
def _default_finance_sources() -> Iterator[None]:
    """The app installs the live registers as finance's sources; no test sees another's."""
    from mobilise.finance.sources import FinanceSources, use_sources

    previous = use_sources(FinanceSources())
    yield
    use_sources(previous if type(previous) is FinanceSources else FinanceSources())
