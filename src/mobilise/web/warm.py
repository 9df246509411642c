"""Keep the pages' whole-register figures worked out ahead of their readers.

The overview, rollout, drives and finance pages show aggregates over the whole register
(up to a second each at 45,000 people) that ``core.readcache`` keeps until the next
audited change. ``mobilise serve`` runs a refresher process beside its server processes
(``python -m mobilise.web.warm``): it works the figures out as the server starts, and
again whenever something has been audited since (at most every half
``web_aggregates_stale_seconds``), into the server's ``FigureStore``, where every server
process takes them from. Meanwhile readers are shown the figures from before the change.
So no reader waits for them (not the first after a restart, nor the first after each of
a service desk's hand-overs), and the work is done once, in a process of its own, rather
than in each server process between its requests.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import date
from typing import Any

import mobilise.models  # noqa: F401  (every model mapped before the first flush)
from mobilise.core.db import session_scope
from mobilise.core.readcache import FigureStore, aggregates, audit_head
from mobilise.core.settings import Settings
from mobilise.web.pages.drives import estate_aggregates
from mobilise.web.pages.finance import finance_aggregates
from mobilise.web.pages.home import overview_aggregates
from mobilise.web.pages.rollout import rollout_aggregates

log = logging.getLogger(__name__)

# The page aggregates kept ahead, most read first; each is called as
# ``warmer(session, settings, fresh=True)``.
WARMERS: list[Callable[..., Any]] = [
    overview_aggregates, rollout_aggregates, estate_aggregates, finance_aggregates,
]


def figure_store(settings: Settings) -> FigureStore:
    """Where a server's processes share the figures."""
    return FigureStore(settings.data_dir / "figures")


def warm(settings: Settings) -> dict[str, float]:
    """Work each page's aggregates out into the read cache unless they are current;
    returns seconds per page. A warmer that fails is logged and skipped: its page works
    the figures out on its next read."""
    took: dict[str, float] = {}
    for warmer in WARMERS:
        began = time.perf_counter()
        try:
            with session_scope(settings) as session:
                warmer(session, settings, fresh=True)
        except Exception:  # noqa: BLE001 - a cold cache is slower, never wrong
            log.exception("working out %s failed", warmer.__name__)
            continue
        took[warmer.__name__] = time.perf_counter() - began
    log.info("page aggregates current: %s",
             ", ".join(f"{k} {v:.2f} s" for k, v in took.items()))
    return took


class Refresher:
    """A thread that warms the aggregates at start and after every audited change."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.period = max(1.0, settings.web_aggregates_stale_seconds / 2)
        self.passes = 0
        self.warmed = threading.Event()  # set after the first pass
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.run, name="mobilise-refresher",
                                        daemon=True)

    def start(self) -> Refresher:
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _state(self) -> tuple[tuple[int, str], date]:
        with session_scope(self.settings) as session:
            return audit_head(session), date.today()

    def run(self) -> None:
        """Warm, then warm again after each change, until stopped (in this thread if
        not ``start``-ed)."""
        seen = None
        while not self._stop.is_set():
            try:
                now = self._state()
                if now != seen:
                    warm(self.settings)
                    self.passes += 1
                    seen = now
            except Exception:  # noqa: BLE001 - the database may be away for a moment
                log.exception("refreshing the page aggregates failed")
            self.warmed.set()
            if self.settings.web_aggregates_stale_seconds == 0:
                return  # readers see every change themselves: warm at start only
            if not self._pause():
                return

    def _pause(self) -> bool:
        """Wait a period; False if stopped meanwhile."""
        return not self._stop.wait(self.period)


def run_refresher(parent: int) -> None:
    """The refresher process of ``mobilise serve`` (entered through ``web.refresher``):
    settings from the environment and mobilise.toml, as the server processes read them;
    it stops when told (SIGTERM) or when its server ``parent`` is gone."""
    from mobilise.core.lifeline import watch_parent
    from mobilise.core.logs import configure_logging

    # Background work: the server's requests come first. A lower CPU priority, and on
    # PostgreSQL no parallel workers for its whole-register queries (else one of them
    # can take every core from the requests for a moment).
    os.nice(10)
    os.environ["PGOPTIONS"] = " ".join(
        [os.environ.get("PGOPTIONS", ""), "-c max_parallel_workers_per_gather=0"]).strip()
    settings = Settings()
    configure_logging(settings)
    aggregates.store = figure_store(settings)
    refresher = Refresher(settings)
    watch_parent(parent, refresher.stop)
    with contextlib.suppress(KeyboardInterrupt):
        refresher.run()
