"""``mobilise devices policy-publish`` and ``policy-status`` as a user runs them."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from mobilise.core.db import session_scope
from mobilise.core.settings import Settings
from tests.cli.test_rollout_cli import run
from tests.devices.fleet import build_fleet


def test_publish_a_version_and_see_who_has_accepted(sqlite_settings: Settings,
                                                   tmp_path: Path) -> None:
    with session_scope(sqlite_settings) as s:
        fleet = build_fleet(s, sqlite_settings, tmp_path, people=4)
        holder = fleet.by_state[next(k for k in fleet.by_state if k == "issued")].imei
    text = tmp_path / "aup.txt"
    text.write_text("Use it for work.\n", encoding="utf-8")
    published = run(sqlite_settings, "devices", "policy-publish", "2.0", str(text))
    assert published.returncode == 0, published.stderr
    assert hashlib.sha256(b"Use it for work.\n").hexdigest() in published.stdout
    again = run(sqlite_settings, "devices", "policy-publish", "2.0", str(text))
    assert again.returncode != 0 and "already published" in again.stderr
    assert "Traceback" not in again.stderr
    status = run(sqlite_settings, "devices", "policy-status", "--not-accepted", "-f", "json")
    rows = json.loads(status.stdout)
    assert [r["imei"] for r in rows] == [holder] and rows[0]["accepted"] is False
    bad = run(sqlite_settings, "devices", "policy-publish", "3.0", str(text),
              "--effective-on", "tomorrow")
    assert bad.returncode != 0 and "YYYY-MM-DD" in bad.stderr
