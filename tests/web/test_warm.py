"""A server process works the pages' aggregates out as it starts and after each audited
change, so readers find them ready."""

from __future__ import annotations

import re
import time
from pathlib import Path

from fastapi.testclient import TestClient

from mobilise.core import audit
from mobilise.core.db import session_scope
from mobilise.core.readcache import aggregates
from mobilise.people import roster
from mobilise.web.app import create_app
from mobilise.web.warm import WARMERS, Refresher, warm
from tests.factories import ADMIN, ROSTER_HEADER, person_row, write_csv
from tests.web.conftest import Web


def test_warming_fills_the_cache_that_the_pages_read(web: Web) -> None:
    aggregates.clear()
    took = warm(web.settings)
    assert set(took) == {w.__name__ for w in WARMERS}
    hits, misses = aggregates.hits, aggregates.misses
    for path in ("/", "/rollout", "/drives", "/finance"):
        assert web.client.get(path, headers=web.as_("admin")).status_code == 200
    assert aggregates.misses == misses, "a page computed what warming had computed"
    assert aggregates.hits == hits + 4


def test_a_served_app_warms_in_the_background_and_a_cold_one_does_not(web: Web) -> None:
    aggregates.clear()
    misses = aggregates.misses
    with TestClient(create_app(web.settings)):
        time.sleep(0.5)
        assert aggregates.misses == misses  # tests and tools work them out on demand
    served = create_app(web.settings, warm=True)
    with TestClient(served):
        assert served.state.refresher.warmed.wait(30)
    assert aggregates.misses == misses + len(WARMERS)


def test_the_refresher_works_the_figures_out_again_after_a_change(web: Web) -> None:
    aggregates.clear()
    settings = web.settings.model_copy(update={"web_aggregates_stale_seconds": 2.0})
    refresher = Refresher(settings).start()
    try:
        assert refresher.warmed.wait(30)
        assert refresher.passes == 1
        misses = aggregates.misses
        with session_scope(settings) as s:
            audit.event(s, ADMIN, "test.touch", "test", "1", {})
        deadline = time.monotonic() + 30
        while refresher.passes < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert refresher.passes == 2
        assert aggregates.misses == misses + len(WARMERS)
        # Nothing changed since: the next look finds them current and does no work.
        time.sleep(1.5)
        assert refresher.passes == 2
    finally:
        refresher.stop()


def _active_people(text: str) -> str:
    found = re.search(r'<span class="figure">([\d,]+)</span> active people', text)
    assert found, "no active people figure on the overview"
    return found.group(1)


def test_a_served_overview_shows_a_change_within_its_stale_seconds(web: Web,
                                                                    tmp_path: Path) -> None:
    aggregates.clear()
    settings = web.settings.model_copy(update={"web_aggregates_stale_seconds": 10.0})
    served = create_app(settings, warm=True)
    with TestClient(served) as client:
        assert served.state.refresher.warmed.wait(30)
        page = client.get("/", headers=web.as_("viewer")).text
        assert _active_people(page) == "12"
        assert "a change shows here within 10 seconds" in page
        served.state.refresher.stop()  # held back, to look between the change and it
        with session_scope(settings) as s:  # a new starter
            roster.import_roster(s, ADMIN, write_csv(
                tmp_path / "more.csv", ROSTER_HEADER, [person_row(n) for n in range(13)]))
        misses = aggregates.misses
        # The figures from before the change, and no reader works them out again...
        assert _active_people(client.get("/", headers=web.as_("viewer")).text) == "12"
        assert aggregates.misses == misses
        # ...the refresher does, and then the page shows the change.
        served.state.refresher = Refresher(settings).start()
        deadline = time.monotonic() + 30
        while (_active_people(client.get("/", headers=web.as_("viewer")).text) != "13"
               and time.monotonic() < deadline):
            time.sleep(0.2)
        assert _active_people(client.get("/", headers=web.as_("viewer")).text) == "13"
