"""``mobilise rollout`` and ``mobilise comms`` end to end, as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from mobilise.core.db import session_scope
from mobilise.core.settings import Settings
from tests.factories import load_people

SRC = Path(__file__).resolve().parents[2] / "src"


def run(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(SRC), "MOBILISE_DATABASE_URL": settings.database_url,
           "MOBILISE_CONFIG": "/nonexistent/mobilise.toml", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "mobilise.cli.main", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_plan_book_and_message_from_the_command_line(sqlite_settings: Settings,
                                                     tmp_path: Path) -> None:
    with session_scope(sqlite_settings) as s:
        load_people(s, tmp_path, count=6)
    s = sqlite_settings
    assert run(s, "rollout", "stock", "add", "2023-01-02", "6").returncode == 0
    assert run(s, "rollout", "capacity", "CE-01", "2").returncode == 0
    planned = run(s, "rollout", "plan", "--start", "2023-01-09", "--deadline", "2023-01-10",
                  "--staged-on-hand", "6", "-f", "json")
    summary = {row["field"]: row["value"] for row in json.loads(planned.stdout)}
    # 6 people, 2 a day, first issue on the 9th: the 11th, one working day late for 2.
    assert summary["met"] is False and summary["people_late"] == 2
    assert summary["days_late"] == 1 and summary["extra_slots_per_site_per_day"] == 1
    applied = run(s, "rollout", "plan", "--start", "2023-01-09", "--deadline", "2023-03-31",
                  "--staged-on-hand", "6", "--apply")
    assert applied.returncode == 0 and "booked 6" in applied.stderr
    listed = json.loads(run(s, "rollout", "appointments", "-f", "json").stdout)
    assert len(listed) == 6 and {a["status"] for a in listed} == {"booked"}
    first = str(listed[0]["id"])
    assert run(s, "rollout", "confirm", first).returncode == 0
    refused = run(s, "rollout", "reschedule", first, "CE-01", "2023-01-12")
    assert refused.returncode == 5 and "reason" in refused.stderr
    ics = run(s, "rollout", "ics", first)
    assert ics.stdout.startswith("BEGIN:VCALENDAR")
    assert run(s, "comms", "templates", "init").returncode == 0
    assert "queued 6" in run(s, "rollout", "notify", "invitation", "--as-of",
                             "2023-01-06").stdout
    preview = run(s, "comms", "preview", "reminder")
    assert "Subject: Reminder" in preview.stdout
    out = tmp_path / "merge.csv"
    assert run(s, "comms", "export", str(out)).returncode == 0
    assert len(out.read_text("utf-8").splitlines()) > 6
    fc = json.loads(run(s, "rollout", "forecast", "--as-of", "2023-01-20", "-f", "json").stdout)
    assert fc and fc[0]["planned"] is not None
