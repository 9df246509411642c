"""Benchmark: charts drawn server-side (Vega-Lite spec by altair, SVG by vl-convert).

Run: PYTHONPATH=src python bench/bench_charts.py

Timed, in one fresh process: importing the chart module; the first chart (which boots
vl-convert's JavaScript runtime: the cold start); then each kind of chart warm (best of
5, the cache of drawn charts emptied before each; and again from the cache); then the
page with the most charts, the investment board report, built from the demo (60 people)
and rendered to its HTML document with its charts and, as the anchor in the same run,
without them (best of 3). The ratio is what the charts add to the page.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROUNDS = 5


def best(fn: Callable[[], Any], rounds: int = ROUNDS, fresh: bool = True) -> float:
    """Best of ``rounds``; ``fresh``: with the drawn-chart cache emptied before each."""
    from mobilise.web import charts

    times = []
    for _ in range(rounds):
        if fresh:
            charts._convert.cache_clear()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    start = time.perf_counter()
    from mobilise.web import charts

    print(f"import mobilise.web.charts (altair): {1000 * (time.perf_counter() - start):.0f} ms")
    start = time.perf_counter()
    import altair  # noqa: F401 - the chart module imports it on first use

    print(f"import altair (on the first chart): {1000 * (time.perf_counter() - start):.0f} ms")
    start = time.perf_counter()
    charts.bar_chart("Risks", [("red", 2), ("amber", 1)], colours={"red": "red"})
    print(f"first chart, cold (boots the converter): "
          f"{1000 * (time.perf_counter() - start):.0f} ms")
    weeks = [date(2025, 1, 6) + timedelta(weeks=n) for n in range(160)]
    kinds: dict[str, Callable[[], Any]] = {
        "bar, 2 bars": lambda: charts.bar_chart("Risks", [("red", 2), ("amber", 1)]),
        "bar, 30 bars with links": lambda: charts.bar_chart(
            "Org units", [(f"Unit {n}", n * 100) for n in range(30)], link="/p?u={}"),
        "line, 60 weeks x 3 series": lambda: charts.line_chart(
            "Handsets", weeks[:60], {s: [n * k for n in range(60)] for k, s in
                                     enumerate(("Planned", "Issued", "Forecast"), 1)}),
        "line, 160 weeks x 4 series": lambda: charts.line_chart(
            "Handsets", weeks, {s: [n * k for n in range(160)] for k, s in
                                enumerate(("Planned", "Re-planned", "Issued", "Forecast"), 1)}),
        "grouped bars, 5 years x 3": lambda: charts.grouped_bar_chart(
            "Capital", [f"20{y}/{y + 1}" for y in range(22, 27)],
            {s: [1.5] * 5 for s in ("Approved", "Actual", "Forecast")}, y_title="£m"),
    }
    for name, fn in kinds.items():
        print(f"warm, {name}: {1000 * best(fn):.0f} ms "
              f"(the same figures again, from the cache: {1000 * best(fn, fresh=False):.0f} ms)")
    board()


def board() -> None:
    from mobilise.core.clock import SystemClock
    from mobilise.core.db import session_scope
    from mobilise.core.settings import Settings
    from mobilise.demo.run import run_demo
    from mobilise.finance.board import build_board_report
    from mobilise.finance.connected import ProgrammeRegisters
    from mobilise.web import board_report

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(database_url=f"sqlite:///{Path(tmp) / 'bench.db'}",
                            data_dir=Path(tmp))
        run_demo(settings, Path(tmp) / "demo", people=60, seed=7, report=lambda _: None)
        with session_scope(settings) as s:
            report = build_board_report(s, settings, SystemClock(),
                                        ProgrammeRegisters(settings))
        drawn = board_report.charts(report)
        count = sum(1 for c in drawn.values() if c and "<svg" in c)
        with_charts = best(lambda: board_report.render_document(report), 3)
        cached = best(lambda: board_report.render_document(report), 3, fresh=False)
        real = board_report.charts
        board_report.charts = lambda _report: {key: None for key in drawn}  # type: ignore[assignment]
        try:
            anchor = best(lambda: board_report.render_document(report), 3)
        finally:
            board_report.charts = real  # type: ignore[assignment]
    print(f"board report HTML with its {count} charts: {1000 * with_charts:.0f} ms "
          f"(charts from the cache: {1000 * cached:.0f} ms)")
    print(f"anchor, the same document without charts: {1000 * anchor:.0f} ms "
          f"(ratio {with_charts / anchor:.1f}x)")


if __name__ == "__main__":
    main()
