"""The pages' whole-register figures are worked out ahead of their readers: as a server
starts and after each audited change, by a refresher process whose results every server
process takes from the shared figure store."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mobilise.core import audit
from mobilise.core.db import session_scope
from mobilise.core.readcache import ReadCache, aggregates
from mobilise.people import roster
from mobilise.web.app import create_app
from mobilise.web.pages import home
from mobilise.web.pages.home import overview_aggregates
from mobilise.web.warm import WARMERS, Refresher, figure_store, warm
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


def test_a_served_process_takes_the_figures_another_process_worked_out(
        web: Web, monkeypatch: pytest.MonkeyPatch) -> None:
    aggregates.clear()
    with monkeypatch.context() as patched:  # the refresher process: its own cache, the store
        patched.setattr(home, "aggregates", ReadCache(store=figure_store(web.settings)))
        with session_scope(web.settings) as s:
            overview_aggregates(s, web.settings, fresh=True)
    with TestClient(create_app(web.settings, served=True)) as client:
        misses, shared = aggregates.misses, aggregates.shared
        assert client.get("/", headers=web.as_("viewer")).status_code == 200
        assert (aggregates.misses, aggregates.shared) == (misses, shared + 1)
    aggregates.clear()
    with TestClient(create_app(web.settings)) as client:  # not served: no store
        misses = aggregates.misses
        assert client.get("/", headers=web.as_("viewer")).status_code == 200
        assert aggregates.misses == misses + 1


def _refresher_env(web: Web) -> dict[str, str]:
    """The environment ``mobilise serve`` gives its refresher process: this estate's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOBILISE_")}
    env.update({"MOBILISE_DATABASE_URL": web.settings.database_url,
                "MOBILISE_DATA_DIR": str(web.settings.data_dir),
                "MOBILISE_HOME_ROOT": str(web.settings.home_root),
                "MOBILISE_CONFIG": str(web.settings.data_dir / "none.toml"),
                "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)})
    return env


def test_the_refresher_process_fills_the_store_and_stops_on_sigterm(web: Web) -> None:
    process = subprocess.Popen([sys.executable, "-m", "mobilise.web.refresher"],
                               env=_refresher_env(web))
    try:
        folder = web.settings.data_dir / "figures"
        deadline = time.monotonic() + 60
        while (len(list(folder.glob("*.pickle"))) < len(WARMERS)
               and time.monotonic() < deadline and process.poll() is None):
            time.sleep(0.1)
        assert len(list(folder.glob("*.pickle"))) == len(WARMERS)
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()


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
    with TestClient(create_app(settings, served=True)) as client:
        warm(settings)
        page = client.get("/", headers=web.as_("viewer")).text
        assert _active_people(page) == "12"
        assert "a change shows here within 10 seconds" in page
        with session_scope(settings) as s:  # a new starter
            roster.import_roster(s, ADMIN, write_csv(
                tmp_path / "more.csv", ROSTER_HEADER, [person_row(n) for n in range(13)]))
        misses = aggregates.misses
        # The figures from before the change, and no reader works them out again...
        assert _active_people(client.get("/", headers=web.as_("viewer")).text) == "12"
        assert aggregates.misses == misses
        # ...the refresher does, and then the page shows the change.
        refresher = Refresher(settings).start()
        try:
            deadline = time.monotonic() + 30
            while (_active_people(client.get("/", headers=web.as_("viewer")).text) != "13"
                   and time.monotonic() < deadline):
                time.sleep(0.2)
            assert _active_people(client.get("/", headers=web.as_("viewer")).text) == "13"
        finally:
            refresher.stop()


# A server that dies before its child has started Python can only be recognised through
# the pid it handed down (as mobilise serve does); one that lives a moment, either way.
@pytest.mark.parametrize(("told", "lifetime"), [(True, "0"), (True, "2"), (False, "2")],
                         ids=["dies at once", "dies later", "dies later, pid not handed down"])
def test_the_refresher_process_stops_when_its_server_process_is_gone(
        web: Web, told: bool, lifetime: str) -> None:
    env = _refresher_env(web)
    # A stand-in server: starts the refresher, then dies without stopping it, at once
    # (before the refresher has even started Python) or a little later.
    hand_down = "MOBILISE_PARENT_PID=$$ " if told else ""
    parent = subprocess.run(
        ["sh", "-c", f'{hand_down}"{sys.executable}" -m mobilise.web.refresher >/dev/null 2>&1 '
                     f"& echo $!; sleep {lifetime}"],
        env=env, capture_output=True, text=True, timeout=60)
    refresher = int(parent.stdout.split()[0])
    deadline = time.monotonic() + 20
    while _running(refresher) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _running(refresher), "the refresher outlived its server"


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan is reaped by init, which a container may lack)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
