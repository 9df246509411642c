"""Every headline figure is worked out once (``programme.figures``) and every surface shows
that one answer: the overview, the board report (page, HTML document, JSON over the API and
the CLI), ``mobilise report figures`` and ``/api/v1/figures``. Each figure is also worked
out again here from the raw rows, with plain SQL, so a shared mistake cannot hide."""

from __future__ import annotations

import html
import json
import math
import os
import re
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from mobilise.core import auth
from mobilise.core.actor import Role
from mobilise.core.clock import SystemClock
from mobilise.core.db import session_scope
from mobilise.core.settings import Settings
from mobilise.demo.run import run_demo
from mobilise.finance.connected import ProgrammeRegisters
from mobilise.finance.sources import use_sources
from mobilise.programme import figures
from mobilise.web.app import create_app
from tests.factories import ADMIN

ROOT = Path(__file__).resolve().parents[2]
KEYS = ["handsets_issued", "people_eligible", "people_migrated", "data_moved",
        "files_by_retention_outcome", "spend", "forecast_finish"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
         ) -> Iterator[tuple[Settings, TestClient, str]]:
    import shutil

    folder = tmp_path_factory.mktemp("figures")
    shutil.copy(sqlite_template, folder / "mobilise.db")
    settings = Settings(database_url=f"sqlite:///{folder / 'mobilise.db'}",
                        data_dir=folder / "data", web_aggregates_stale_seconds=0)
    run_demo(settings, folder / "demo", people=60, seed=7, report=lambda _: None)
    with session_scope(settings) as s:
        user = auth.add_user(s, ADMIN, "figures-viewer", "a long enough password 1",
                             frozenset({Role.VIEWER}))
        s.flush()
        token = auth.issue_token(s, ADMIN, user, "test")
    with TestClient(create_app(settings), base_url="http://testserver") as client:
        yield settings, client, token


@pytest.fixture
def served(demo: tuple[Settings, TestClient, str]) -> tuple[Settings, TestClient, str]:
    """The app installs the live registers as finance's sources when it starts; the
    autouse fixture resets them for every test, so install them as the app does."""
    use_sources(ProgrammeRegisters(demo[0]))
    return demo


def _shown(page: str) -> dict[str, str]:
    return {key: html.unescape(value) for key, value in
            re.findall(r'data-figure="([a-z_]+)">([^<]*)</', page)}


def _cli(settings: Settings, *args: str) -> Any:
    env = {**os.environ, "MOBILISE_DATABASE_URL": settings.database_url,
           "MOBILISE_DATA_DIR": str(settings.data_dir), "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run([sys.executable, "-m", "mobilise.cli.main", *args], env=env,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_every_surface_shows_the_same_headline_figures(
        served: tuple[Settings, TestClient, str]) -> None:
    settings, client, token = served
    bearer = {"Authorization": f"Bearer {token}"}
    with session_scope(settings) as s:
        expected = figures.headline(s, settings, SystemClock())
    texts = {f.key: f.text for f in expected}
    rows = json.loads(json.dumps([f.row() for f in expected], default=str))
    assert list(texts) == KEYS
    # The demo ran everything: no figure may be missing.
    assert all(f.value is not None for f in expected), [f.text for f in expected]

    surfaces: dict[str, dict[str, str]] = {
        "overview": _shown(client.get("/", headers=bearer).text),
        "board page": _shown(client.get("/reports/board", headers=bearer).text),
        "board document": _shown(client.get("/reports/board.html", headers=bearer).text),
        "board JSON (API)": {f["key"]: f["text"] for f in
                             client.get("/api/v1/finance/board", headers=bearer)
                             .json()["figures"]},
        "figures (API)": {f["key"]: f["text"] for f in
                          client.get("/api/v1/figures", headers=bearer).json()},
        "board JSON (CLI)": {f["key"]: f["text"] for f in
                             _cli(settings, "report", "board", "--format", "json",
                                  "--out", "-")["figures"]},
        "figures (CLI)": {f["key"]: f["text"] for f in
                          _cli(settings, "report", "figures", "--format", "json")},
    }
    for name, shown in surfaces.items():
        assert shown == texts, name
    # The values, not only their words, are the same over the API and the CLI.
    api_rows = client.get("/api/v1/figures", headers=bearer).json()
    cli_rows = _cli(settings, "report", "figures", "--format", "json")
    assert [r["value"] for r in api_rows] == [r["value"] for r in rows]
    assert [r["value"] for r in cli_rows] == [r["value"] for r in rows]
    # The PDF is the board document printed by Chromium (the same HTML as above).
    pdf = client.get("/reports/board.pdf", headers=bearer)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_each_figure_recomputed_from_the_raw_rows(
        demo: tuple[Settings, TestClient, str]) -> None:
    settings, _, _ = demo
    clock = SystemClock()
    with session_scope(settings) as s:
        got = figures.by_key(figures.headline(s, settings, clock))
        assert got["handsets_issued"].value == _handsets_issued(s)
        assert got["people_eligible"].value == _eligible(s)
        assert got["people_migrated"].value == _migrated(s)
        assert got["data_moved"].value == _bytes_moved(s)
        assert got["files_by_retention_outcome"].value == _latest_dry_run(s)
        assert got["spend"].value is not None
        assert got["spend"].value.as_dict() == _spend(s)
        finish = got["forecast_finish"].value
        assert finish is not None
        assert (finish.finish, finish.deadline) == _finish(s, settings, clock.today())
    # The figures are not trivially zero on the demo.
    assert got["handsets_issued"].value and got["people_eligible"].value
    assert got["people_migrated"].value and got["data_moved"].value
    assert got["files_by_retention_outcome"].value


def _handsets_issued(s: Session) -> int:
    return s.execute(text(
        "SELECT count(DISTINCT h.holder_id) FROM handset h JOIN person p ON p.id = h.holder_id "
        "WHERE h.status = 'issued' AND p.status = 'active' AND p.eligible")).scalar_one()


def _eligible(s: Session) -> int:
    return s.execute(text("SELECT count(*) FROM person WHERE status = 'active' AND eligible")
                     ).scalar_one()


def _migrated(s: Session) -> int:
    return s.execute(text("SELECT count(DISTINCT person_id) FROM migration_person "
                          "WHERE state = 'migrated'")).scalar_one()


def _bytes_moved(s: Session) -> int:
    total = 0
    for (summary,) in s.execute(text("SELECT summary FROM migration_round "
                                     "WHERE status IN ('done', 'failed')")):
        loaded = json.loads(summary) if isinstance(summary, str) else summary
        total += int((loaded or {}).get("bytes_copied", 0))
    return total


def _latest_dry_run(s: Session) -> dict[str, int]:
    after = s.execute(text("SELECT after FROM audit_log WHERE action = 'retention.dry_run' "
                           "ORDER BY seq DESC LIMIT 1")).scalar_one()
    loaded = json.loads(after) if isinstance(after, str) else after
    return {str(r["action"]): int(r["files"]) for r in loaded["by_action"]}


def _spend(s: Session) -> dict[str, Any]:
    last = max(s.execute(text("SELECT max(year) FROM finance_envelope")).scalar_one(),
               s.execute(text("SELECT coalesce(max(year), 0) FROM finance_spend")).scalar_one())
    approved = sum(amount * ((max(last, year) - year + 1) if open_ended else 1)
                   for year, amount, open_ended in s.execute(text(
                       "SELECT year, amount_pence, open_ended FROM finance_envelope")))
    rows = s.execute(text("SELECT kind, reference, amount_pence, order_reference "
                          "FROM finance_spend")).all()
    invoiced: dict[str, int] = defaultdict(int)
    for kind, _, amount, order in rows:
        if kind == "invoice" and order:
            invoiced[order] += amount
    committed = sum(a for k, _, a, _ in rows if k == "order")
    actual = sum(a for k, _, a, _ in rows if k == "invoice")
    outstanding = sum(min(max(a - invoiced[r], 0), a) for k, r, a, _ in rows if k == "order")
    return {"approved_pence": approved, "committed_pence": committed,
            "actual_pence": actual, "forecast_pence": actual + outstanding,
            "through": f"{last}/{(last + 1) % 100:02d}"}


def _finish(s: Session, settings: Settings, today: date) -> tuple[date | None, date]:
    """Projected from this week at the average of the last four whole weeks' hand-overs."""
    first = s.execute(text(
        "SELECT min(h.issued_at) FROM handset h JOIN person p ON p.id = h.holder_id "
        "WHERE h.status = 'issued' AND p.status = 'active' AND p.eligible "
        "GROUP BY h.holder_id")).scalars().all()
    days = [d if isinstance(d, date) else date.fromisoformat(str(d)[:10]) for d in first]
    days = [d.date() if hasattr(d, "date") and callable(d.date) else d for d in days]
    monday = today - timedelta(days=today.weekday())
    recent = sum(1 for d in days if monday - timedelta(weeks=4) <= d < monday)
    remaining = _eligible(s) - _handsets_issued(s)
    deadline_text = s.execute(text("SELECT deadline FROM rollout_plan ORDER BY id DESC LIMIT 1")
                              ).scalar()
    deadline = (settings.rollout_deadline if deadline_text is None
                else date.fromisoformat(str(deadline_text)[:10]))
    if remaining <= 0:
        return today, deadline
    if not recent:
        return None, deadline
    return monday + timedelta(weeks=math.ceil(remaining / (recent / 4)), days=4), deadline


def test_one_person_followed_from_the_roster_to_their_reviewed_files(
        served: tuple[Settings, TestClient, str]) -> None:
    """The programme manager's walk through one person: appointment, hand-over, migrated
    drive and its end state, reviewed files, messages. Every link agrees with the rows
    that own it, and the API, the CLI and the person's page say the same."""
    settings, client, token = served
    bearer = {"Authorization": f"Bearer {token}"}
    with session_scope(settings) as s:
        number, imei = s.execute(text(
            "SELECT p.number, h.imei FROM migration_person m JOIN person p ON p.id = m.person_id"
            " JOIN rollout_appointment a ON a.person_id = p.id AND a.status = 'attended'"
            " JOIN handset h ON h.id = a.handset_id"
            " WHERE m.state = 'migrated' ORDER BY p.number")).first()
        items, undecided = s.execute(text(
            "SELECT count(*), count(*) - count(decision) FROM retention_review_item"
            " WHERE person = :n"), {"n": number}).one()
        held = s.execute(text("SELECT h.imei, h.status FROM handset h JOIN person p"
                              " ON p.id = h.holder_id WHERE p.number = :n"),
                         {"n": number}).all()
    journey = client.get(f"/api/v1/people/{number}/journey", headers=bearer).json()
    assert journey == _cli(settings, "people", "journey", number, "--format", "json")[0]
    # Hand-over: the appointment was attended with the handset the register has them hold.
    attended = [a for a in journey["appointments"] if a["status"] == "attended"]
    assert [a["imei"] for a in attended] == [imei] and (imei, "issued") in held
    assert [h["imei"] for h in journey["handsets"]] == [imei for imei, _ in held]
    # Migrated, and the drive carried on to its end state in the demo.
    [migration] = journey["migrations"]
    assert (migration["wave"], migration["state"], migration["after_cutover"]) == (
        "Demo wave 1", "migrated", "released")
    # Their files sent to review, every one decided before their cutover.
    assert journey["review"]["items"] == items > 0 and journey["review"]["open"] == undecided == 0
    assert sum(journey["review"]["decided"].values()) == items
    # Each migration message exactly once, and the hand-over confirmation.
    sent = [m["template"] for m in journey["messages"]]
    for stage in ("wave_announcement", "readiness_report", "cutover_notice", "completion"):
        assert sent.count(stage) == 1, sent
    assert "handover" in sent
    page = client.get(f"/people/{number}", headers=bearer).text
    assert f'href="/handsets/{imei}"' in page and 'data-field="review"' in page
    assert page.count('data-field="messages"') == 1
