from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from mobilise.core.db import session_scope
from mobilise.core.settings import Settings
from mobilise.demo.devices import load_devices
from mobilise.demo.run import load_people
from mobilise.devices.models import Acceptance, Handset


def test_demo_fleet(sqlite_settings: Settings, tmp_path: Path) -> None:
    load_people(sqlite_settings, tmp_path, 400, 1322)
    note = load_devices(sqlite_settings, tmp_path, 400, 1322)
    with session_scope(sqlite_settings) as s:
        by_status = dict(s.execute(select(Handset.status, func.count())
                                   .group_by(Handset.status)).all())
        accepted = s.scalar(select(func.count()).select_from(Acceptance))
    issued, stocked = by_status["issued"], by_status["in_stock"]
    assert note.startswith(f"devices: {issued} handsets already issued, {stocked} delivered")
    assert 40 < issued < 100 and stocked >= 50 and accepted == issued
    assert load_devices(sqlite_settings, tmp_path, 400, 1322) == "devices: fleet already loaded"
