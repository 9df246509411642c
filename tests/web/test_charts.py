"""Charts people can read: drawn server-side to SVG (no script), dates along time axes
without labels on top of each other, colours by meaning, units that scale, a name and a
description for screen readers, and the same figures as a table beside each chart."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from fastapi.testclient import TestClient
from pytest import MonkeyPatch

from mobilise.core.readcache import aggregates
from mobilise.web.app import create_app
from mobilise.web.charts import (
    DATE_TICKS,
    MEANING,
    bar_chart,
    bytes_chart,
    grouped_bar_chart,
    line_chart,
    size_unit,
)
from tests.web.conftest import Web

MONDAY = date(2025, 1, 6)


def _weeks(count: int) -> list[date]:
    return [MONDAY + timedelta(weeks=n) for n in range(count)]


def _x_labels(svg: str) -> list[tuple[float, str]]:
    """The x axis's tick labels with their positions (the first axis Vega writes)."""
    axis = re.search(r'aria-label="X-axis.*?role-axis-label"[^>]*>(.*?)</g>', svg, re.DOTALL)
    assert axis is not None, "no x axis"
    return [(float(x), text) for x, text in
            re.findall(r'<text[^>]*transform="translate\(([-\d.]+),[^"]*"[^>]*>([^<]*)</text>',
                       axis.group(1))]


def _y_labels(svg: str) -> list[str]:
    axis = re.search(r'aria-label="Y-axis.*?role-axis-label"[^>]*>(.*?)</g>', svg, re.DOTALL)
    assert axis is not None, "no y axis"
    return re.findall(r">([^<]*)</text>", axis.group(1))


def _table_rows(markup: str) -> list[list[str]]:
    rows = re.findall(r'<tr class="govuk-table__row"><th scope="row"[^>]*>(.*?)</tr>', markup)
    return [re.findall(r">([^<>]+)<", f">{row}") for row in rows]


def _fills(svg: str, roledescription: str) -> dict[str, str]:
    """Each mark's fill by the label Vega gives it (``label: red; value: 2``)."""
    marks = re.findall(rf'<path aria-label="label: ([^;]*);[^"]*" role="graphics-symbol" '
                       rf'aria-roledescription="{roledescription}"[^>]*fill="(#[0-9a-f]+)"',
                       svg)
    return dict(marks)


def test_every_chart_is_static_svg_named_and_described() -> None:
    drawn = {
        "Risks by level": bar_chart("Risks by level", [("red", 2), ("amber", 1)]),
        "Data copied (MB)": bytes_chart("Data copied", [("W1", 3 * 10**6)]),
        "Issued by week": line_chart("Issued by week", _weeks(3), {"Issued": [1, 2, 3]}),
        "Budget by year": grouped_bar_chart("Budget by year", ["2025/26"],
                                            {"Approved": [1.0], "Actual": [0.5]}),
    }
    for title, markup in drawn.items():
        svg = re.search(r"<svg\b[^>]*>", markup)
        assert svg is not None, title
        assert 'role="img"' in svg.group(0) and f'aria-label="{title}"' in svg.group(0)
        assert f"<title>{title}</title><desc>" in markup, title
        # Nothing for the pages' CSP to refuse: no script, no style attribute or element.
        assert "<script" not in markup.lower() and "style=" not in markup
        assert "<style" not in markup.lower(), title
        assert "font-family=\"system-ui," in markup, title


def test_text_is_escaped_and_links_stay_on_the_site() -> None:
    markup = bar_chart("Org <units> & people", [("A&B", 3), ("C/D", 1)],
                       link="/people?org_unit={}")
    assert "<units>" not in markup and "Org &lt;units&gt; &amp; people" in markup
    assert "vega.github.io" not in markup and "vega-datasets" not in markup
    # Bars link for a pointer (out of the tab order: role="img" is one picture); the table
    # carries the same links for the keyboard.
    assert '<a tabindex="-1" xlink:href="/people?org_unit=A%26B">' in markup
    assert '<a href="/people?org_unit=C%2FD">C/D</a>' in markup


def test_a_year_of_weeks_runs_along_a_date_axis_without_overlapping_labels() -> None:
    for count in (60, 160):
        weeks = _weeks(count)
        svg = line_chart("Handsets issued", weeks, {"Issued": [float(n) for n in range(count)]})
        labels = _x_labels(svg)
        assert 3 <= len(labels) <= DATE_TICKS, (count, labels)
        for _, text in labels:  # real dates, inside the run
            shown = datetime.strptime(text, "%Y" if len(text) == 4 else "%b %Y").date()
            assert weeks[0] - timedelta(days=31) <= shown <= weeks[-1], text
        # Apart by more than a label's width (about 60 pixels at 12px for "Sep 2025").
        gaps = [b[0] - a[0] for a, b in zip(labels, labels[1:], strict=False)]
        assert min(gaps) > 60, (count, labels)


def test_a_few_weeks_show_their_days() -> None:
    labels = [text for _, text in _x_labels(line_chart("t", _weeks(5), {"s": [1, 2, 3, 4, 5]}))]
    assert labels and all(re.fullmatch(r"\d\d [A-Z][a-z]{2} 2025", t) for t in labels), labels


def test_a_red_risk_is_drawn_red_and_an_amber_one_amber() -> None:
    svg = bar_chart("Risks by level", [("red", 2), ("amber", 1)],
                    colours={"red": "red", "amber": "amber"})
    assert _fills(svg, "bar") == {"red": MEANING["red"], "amber": MEANING["amber"]}
    plain = bar_chart("Risks by level", [("red", 2), ("amber", 1)])
    assert _fills(plain, "bar") == {"red": MEANING["blue"], "amber": MEANING["blue"]}


def test_lines_differ_by_dash_and_take_a_meaning_colour() -> None:
    svg = line_chart("Progress", _weeks(4), {"Done": [1, 2, 3, 4], "Target": [4, 4, 4, 4]},
                     colours={"Target": "grey"})
    lines = re.findall(r'aria-roledescription="line mark"[^>]*?stroke="(#[0-9a-f]+)"'
                       r'(?:[^>]*stroke-dasharray="([^"]+)")?', svg)
    assert dict(lines) == {MEANING["blue"]: "1,0", MEANING["grey"]: "8,4"}  # solid, dashed
    legend = re.search(r'role-legend.*?</g></g></g>', svg, re.DOTALL)
    assert legend is not None and ">Done<" in legend.group(0) and ">Target<" in svg


def test_grouped_bars_name_their_order_and_keep_neutral_blues() -> None:
    svg = grouped_bar_chart("Capital (£m)", ["2025/26", "2026/27"],
                            {"Approved": [1.5, 2.0], "Actual": [1.0, None]}, y_title="£m")
    assert "Bars, left to right:" in svg
    fills = set(re.findall(r'aria-roledescription="bar"[^>]*fill="(#[0-9a-f]+)"', svg))
    assert fills == {MEANING["blue"], MEANING["dark_blue"]}
    rows = _table_rows(svg)
    assert rows == [["2025/26", "1.5", "1"], ["2026/27", "2", "–"]]
    assert "Approved (£m)" in svg


def test_sizes_take_the_unit_their_largest_needs() -> None:
    assert size_unit(167 * 10**9) == ("GB", 10**9)
    assert size_unit(2.5 * 10**12) == ("TB", 10**12)
    assert size_unit(10) == ("B", 1)
    svg = bytes_chart("Data copied by wave", [("W1", 3 * 10**6), ("W2", 12 * 10**6)])
    assert "Data copied by wave (MB)" in svg and "TB" not in svg
    assert _y_labels(svg)[-1] == "12" and "0.000" not in svg
    assert _table_rows(svg) == [["W1", "3"], ["W2", "12"]]


def test_a_few_things_tick_at_whole_numbers() -> None:
    assert _y_labels(bar_chart("Risks", [("red", 2), ("amber", 1)])) == ["0", "1", "2"]
    weeks = _y_labels(line_chart("Issued", _weeks(3), {"Issued": [1, 2, 3]}))
    assert weeks == ["0", "1", "2", "3"]


def test_counts_carry_thousands_separators() -> None:
    svg = bar_chart("Files by action", [("keep", 12_000), ("delete", 3_500)])
    assert "12,000" in _y_labels(svg)
    assert _table_rows(svg) == [["keep", "12,000"], ["delete", "3,500"]]


def test_the_table_has_one_row_a_datum() -> None:
    weeks = _weeks(60)
    svg = line_chart("Handsets", weeks, {"Planned": [n * 10 for n in range(60)],
                                         "Issued": [n * 9 if n < 40 else None
                                                    for n in range(60)]})
    rows = _table_rows(svg)
    assert len(rows) == 60 and rows[0] == ["06 Jan 2025", "0", "0"]
    assert rows[-1] == [f"{weeks[-1]:%d %b %Y}", "590", "–"]
    assert "Show the data as a table" in svg
    bars = bar_chart("Findings", [(f"kind {n}", n) for n in range(7)])
    assert len(_table_rows(bars)) == 7
    assert "<details" not in bar_chart("Findings", [("a", 1)], table=False)


def test_no_figures_read_as_a_sentence_not_an_empty_chart() -> None:
    for markup in (bar_chart("t", []), bytes_chart("t", []), line_chart("t", [], {}),
                   line_chart("t", _weeks(2), {"s": [None, None]}),
                   grouped_bar_chart("t", [], {})):
        assert "<svg" not in markup and "No figures to chart yet." in markup


def test_a_served_process_boots_the_converter_as_it_starts(web: Web,
                                                           monkeypatch: MonkeyPatch) -> None:
    """The first chart in a process costs seconds (altair's import, the JavaScript
    runtime's boot): a server process pays it at start-up, in the background."""
    from mobilise.web import charts

    real = charts.warm_in_background
    started: list[str] = []
    monkeypatch.setattr(charts, "warm_in_background", lambda: started.append("warm"))
    monkeypatch.setattr(aggregates, "store", aggregates.store)  # served sets the shared store
    with TestClient(create_app(web.settings, served=True)):
        assert started == ["warm"]
    with TestClient(create_app(web.settings)):  # tests and tools draw on demand
        assert started == ["warm"]
    thread = real()  # and the real one boots it without blocking its caller
    thread.join(60)
    assert not thread.is_alive()
