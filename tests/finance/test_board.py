"""The board report: built from live data, honest about what is not connected, and
rendered by real Chromium with its charts (HTML and PDF)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from mobilise.core.clock import FixedClock
from mobilise.core.db import session_scope
from mobilise.core.settings import Settings
from mobilise.demo.finance import load_finance
from mobilise.demo.run import run_demo
from mobilise.finance.board import build_board_report, forecast_completion
from mobilise.finance.connected import ProgrammeRegisters
from mobilise.finance.sources import (
    DeliveryProgress,
    FinanceSources,
    Reading,
    Risk,
    use_sources,
)
from mobilise.web.board_report import render_document
from mobilise.web.chromium import dump_dom, print_pdf

CLOCK = FixedClock(datetime(2023, 3, 1, 9, 0, tzinfo=UTC))
ROOT = Path(__file__).resolve().parents[2]


class RolloutConnected(FinanceSources):
    """What the rollout and devices registers will answer once they are connected."""

    def handsets_issued(self, session: Session) -> Reading[int]:
        return Reading(20_000, "devices register")

    def rollout_progress(self, session: Session) -> Reading[DeliveryProgress]:
        days = [date(2023, 1, 1) + timedelta(days=7 * n) for n in range(9)]
        return Reading(DeliveryProgress("handsets issued", 29_737, date(2023, 3, 31),
                                        [(d, 2_000 * n) for n, d in enumerate(days)]),
                       "rollout plan")

    def risks(self, session: Session) -> Reading[list[Risk]]:
        return Reading([Risk("Staging capacity", "medium", "two sites closed", "rollout")],
                       "rollout risk register")


@pytest.fixture
def demo_settings(sqlite_settings: Settings, tmp_path: Path) -> Settings:
    load_finance(sqlite_settings, tmp_path / "demo", 0, 1322)
    return sqlite_settings


def test_default_sources_say_not_yet_available_and_invent_nothing(
        demo_settings: Settings) -> None:
    with session_scope(demo_settings) as s:
        report = build_board_report(s, demo_settings, CLOCK, FinanceSources())
    assert all(not w.progress.available and w.completion is None for w in report.workstreams)
    assert any("rollout plan has not been connected" in n for n in report.notes)
    assert all(u.per_unit_pence is None for u in report.unit_costs)
    html = render_document(report)
    assert "Not yet available: the rollout plan has not been connected" in html
    assert html.count("not yet available") >= 3  # unit costs say so, no number
    titles = {r.title for r in report.risks}
    # Findings in the demo's own figures: every handset bought under PCD 1322 (and the fleet
    # bought in September 2022) falls due for refresh in 2025/26, 39,737 at £232 against a
    # £9m envelope, and one order over the PCR threshold has no approval.
    assert "Refresh not funded in 2025/26" in titles
    [refresh] = [r for r in report.refresh if r.handsets_due]
    assert (refresh.year.label, refresh.handsets_due) == ("2025/26", 39_737)
    assert "Approval not recorded for PO-22-0104" in titles
    assert "Forecast overspend, capital 2023/24" in titles


def test_connected_sources_feed_progress_forecast_and_unit_cost(
        demo_settings: Settings) -> None:
    with session_scope(demo_settings) as s:
        report = build_board_report(s, demo_settings, CLOCK, RolloutConnected())
    rollout = report.workstreams[0]
    assert rollout.completion is not None
    # Projected from today (1 March), not from the last reading (26 February): 2,000 a
    # week, 16,000 by 26 February, 8,000 on 29 January (the last reading at or before 1
    # February, 28 days back): 8,000 in 31 days; 13,737 to go is 53.2 days → 54 days after
    # 1 March: 24 April, 24 days late.
    assert rollout.completion.finishes_on == date(2023, 4, 24)
    assert rollout.completion.days_late == 24
    assert "Smartphone rollout forecast to miss its deadline" in {r.title for r in report.risks}
    assert "Staging capacity" in {r.title for r in report.risks}
    planned, per_handset = report.unit_costs[0], report.unit_costs[1]
    assert per_handset.per_unit_pence == per_handset.spend_pence // 20_000
    # Each unit cost says what it divides by what, as of when.
    assert per_handset.row()["divides"] == ("rollout capital invoiced to date ÷ handsets "
                                            "issued to date")
    assert per_handset.row()["as_of"] == CLOCK.today()
    assert planned.measure == "per handset planned"
    assert planned.spend_pence == 820_000_000 + 40_000_000  # PCD 1322's capital envelopes
    assert planned.per_unit_pence == planned.spend_pence // 29_737


def test_completion_forecast_edges() -> None:
    today = date(2025, 6, 20)
    done = DeliveryProgress("people migrated", 10, date(2025, 6, 30),
                            [(date(2025, 6, 1), 4), (date(2025, 6, 20), 10)])
    finished = forecast_completion(done, today)
    assert finished.finishes_on == date(2025, 6, 20) and finished.days_late == -10
    # No reading 28 days back: the rate runs from the first reading, 6 in 19 days.
    going = forecast_completion(replace(done, target=20), today)
    assert going.rate_per_day == Decimal("0.3")
    assert going.finishes_on == date(2025, 6, 20) + timedelta(days=32)  # ceil(10 / (6/19))
    stalled = replace(done, target=20, cumulative=[(date(2025, 6, 1), 4), (date(2025, 6, 20), 4)])
    assert forecast_completion(stalled, today).finishes_on is None
    assert forecast_completion(replace(done, cumulative=[]), today).finishes_on is None


def test_completion_is_projected_from_today_not_the_last_reading() -> None:
    """The same readings, read two months later: nothing happened since, so no rate and
    no finish (the old forecast projected June's rate from 20 June as if still going)."""
    progress = DeliveryProgress("handsets issued", 20, date(2025, 6, 30),
                                [(date(2025, 6, 1), 4), (date(2025, 6, 20), 10)])
    assert forecast_completion(progress, date(2025, 8, 20)).finishes_on is None
    # A week after the last reading: 6 in 26 days (from 1 June), projected from today.
    later = forecast_completion(progress, date(2025, 6, 27))
    assert later.finishes_on == date(2025, 6, 27) + timedelta(days=44)  # ceil(10 / (6/26))


def _pdf_pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page[^s]", pdf))


def test_board_report_from_the_demo_renders_in_chromium_with_charts(
        sqlite_settings: Settings, tmp_path: Path) -> None:
    run_demo(sqlite_settings, tmp_path / "demo", people=60, seed=7, report=lambda _: None)
    with session_scope(sqlite_settings) as s:
        report = build_board_report(s, sqlite_settings, CLOCK,
                                    ProgrammeRegisters(sqlite_settings))
    html = render_document(report)
    dom = dump_dom(sqlite_settings, html)
    # Chromium parsed the inline SVG into elements: the three budget charts, each with
    # bars, and one progress chart per workstream the demo's registers can answer for
    # (rollout from the hand-overs in the handset register, migration from the demo's wave).
    progress = [w for w in report.workstreams if w.progress.available]
    assert len(progress) == 2
    # A workstream with nothing delivered yet has no line to draw.
    drawn = [w for w in progress if w.progress.value and w.progress.value.cumulative]
    assert drawn == progress  # the demo hands over phones and migrates its first wave
    charts = re.findall(r"<svg[^>]*class=\"chart-svg\"", dom)
    assert len(charts) == 3 + len(drawn), charts
    for title in ("Capital: approved, actual and forecast by financial year (£m)",
                  "Revenue: approved, actual and forecast by financial year (£m)",
                  "Handset refresh: cost due against the refresh envelope (£m)"):
        assert title in dom
    assert len(re.findall(r'aria-roledescription="bar"', dom)) >= 15
    assert "2022/23" in dom and "PCD 1322" in dom
    pdf = print_pdf(sqlite_settings, html, tmp_path / "board.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and _pdf_pages(pdf) >= 2


def test_cli_writes_the_board_report_as_pdf_and_html(demo_settings: Settings,
                                                    tmp_path: Path) -> None:
    env = {**os.environ, "MOBILISE_DATABASE_URL": demo_settings.database_url,
           "PYTHONPATH": str(ROOT / "src")}
    for fmt in ("pdf", "html"):
        out = tmp_path / f"board.{fmt}"
        done = subprocess.run([sys.executable, "-m", "mobilise.cli.main", "report", "board",
                               "--format", fmt, "--out", str(out)], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stderr
        assert out.stat().st_size > 10_000
    assert _pdf_pages((tmp_path / "board.pdf").read_bytes()) >= 2
    assert 'class="chart-svg"' in (tmp_path / "board.html").read_text(encoding="utf-8")


def test_cli_spend_import_names_the_bad_line(demo_settings: Settings, tmp_path: Path) -> None:
    bad = tmp_path / "spend.csv"
    bad.write_text("kind,reference,date,supplier,decision,budget,amount\n"
                   "order,PO-9,2022-12-01,Acme,PCD 1322,capital,1000\n"
                   "invoice,INV-9,2022-12-02,Acme,PCD 1322,capital,ten pounds\n",
                   encoding="utf-8")
    env = {**os.environ, "MOBILISE_DATABASE_URL": demo_settings.database_url,
           "PYTHONPATH": str(ROOT / "src"), "COLUMNS": "200"}
    done = subprocess.run([sys.executable, "-m", "mobilise.cli.main", "finance",
                           "import-spend", str(bad)], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2
    assert f"{bad}:3:7: amount: 'ten pounds' is not an amount of money" in done.stderr
    assert "nothing was imported" in done.stderr


@pytest.fixture
def installed_sources() -> Iterator[None]:
    previous = use_sources(RolloutConnected())
    yield
    use_sources(previous)


def test_installed_sources_reach_the_web_page(installed_sources: None,
                                              demo_settings: Settings) -> None:
    from fastapi.testclient import TestClient

    from mobilise.core import auth
    from mobilise.web.app import create_app
    from tests.factories import ADMIN

    with session_scope(demo_settings) as s:
        user = auth.add_user(s, ADMIN, "board", "correct horse battery", ["viewer"])
        s.flush()
        token = auth.issue_token(s, ADMIN, user, "test")
    with TestClient(create_app(demo_settings)) as client:
        page = client.get("/reports/board", headers={"Authorization": f"Bearer {token}"})
    assert page.status_code == 200
    assert "16,000</strong> of 29,737 handsets issued" in page.text
    assert page.text.count('class="chart-svg"') == 4  # progress chart joins the three


def test_demo_finance_step_runs_twice_without_counting_twice(demo_settings: Settings,
                                                             tmp_path: Path) -> None:
    note = load_finance(demo_settings, tmp_path / "again", 0, 1322)
    assert "spend lines 44 unchanged" in note
