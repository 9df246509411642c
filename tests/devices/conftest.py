from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from mobilise.core.db import session_factory
from mobilise.core.settings import Settings
from tests.devices.fleet import Fleet, build_fleet
from tests.web.conftest import web  # noqa: F401  (the app fixture, shared with tests/web)


@pytest.fixture
def fleet(settings: Settings, session: Session, tmp_path: Path) -> Fleet:
    return build_fleet(session, settings, tmp_path)


@pytest.fixture
def sqlite_fleet(sqlite_settings: Settings, tmp_path: Path) -> Iterator[Fleet]:
    s = session_factory(sqlite_settings)()
    yield build_fleet(s, sqlite_settings, tmp_path)
    s.rollback()
    s.close()
