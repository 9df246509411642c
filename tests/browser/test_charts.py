"""Charts in real Chromium under the pages' Content-Security-Policy: the inline SVG is
drawn (lines with length, text laid out), nothing is refused, and the table beside a
chart opens to the same figures."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page

from tests.browser.conftest import Site, sign_in


def test_the_overview_and_rollout_charts_draw_under_the_csp(page: Page, fleet_site: Site,
                                                            tmp_path: Path) -> None:
    sign_in(page, fleet_site, "admin")
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(fleet_site.url + "/rollout?as_of=2026-11-22")
    charts = page.locator("svg.chart-svg")
    assert charts.count() == 2
    for index in range(charts.count()):
        box = charts.nth(index).bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 150
    burndown = charts.first
    assert (burndown.get_attribute("aria-label") or "").startswith(
        "Handsets issued, cumulative by week")
    # The lines were drawn (a path with length), and the date labels laid out as text.
    longest = burndown.evaluate(
        "svg => Math.max(...[...svg.querySelectorAll('path[aria-roledescription=\"line mark\"]')]"
        ".map(p => p.getTotalLength()))")
    assert longest > 100
    widths = burndown.locator("g.role-axis-label text").evaluate_all(
        "texts => texts.map(t => t.getComputedTextLength())")
    assert widths and min(widths) > 0
    # The rollout page has its own tables; on the overview each chart has one beside it.
    page.screenshot(path=str(tmp_path / "rollout.png"), full_page=True)
    page.goto(fleet_site.url + "/")
    assert page.locator("svg.chart-svg").count() >= 2
    details = page.locator("details.chart-data").first
    details.locator("summary").click()
    assert details.locator("tbody tr").count() >= 1
    assert details.locator("tbody tr").first.is_visible()
    page.screenshot(path=str(tmp_path / "overview.png"), full_page=True)
    assert errors == [], errors
