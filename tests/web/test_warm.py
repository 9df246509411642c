"""A server process computes the pages' aggregates as it starts, so the first reader of
each page finds them ready."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from mobilise.core.readcache import aggregates
from mobilise.web.app import create_app
from mobilise.web.warm import WARMERS, warm
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
        assert aggregates.misses == misses  # tests and tools read on demand
    served = create_app(web.settings, warm=True)
    with TestClient(served):
        served.state.warming.join(30)
    assert aggregates.misses == misses + len(WARMERS)
