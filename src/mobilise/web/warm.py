"""Warm the read cache when a server process starts.

The overview, rollout, drives and finance pages show aggregates over the whole register
(about a second at 45,000 people) that ``core.readcache`` keeps until the next audited
change. Each server process has its own cache, so without warming the first person to
open each page in each process pays for it: ``mobilise serve`` computes them in the
background as it starts, and readers who arrive meanwhile wait for that computation
rather than start their own.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from mobilise.core.db import session_scope
from mobilise.core.settings import Settings
from mobilise.web.pages.drives import estate_aggregates
from mobilise.web.pages.finance import finance_aggregates
from mobilise.web.pages.home import overview_aggregates
from mobilise.web.pages.rollout import rollout_aggregates

log = logging.getLogger(__name__)

# The page aggregates a fresh process computes, most read first.
WARMERS: list[Callable[[Session, Settings], Any]] = [
    overview_aggregates, rollout_aggregates, estate_aggregates, finance_aggregates,
]


def warm(settings: Settings) -> dict[str, float]:
    """Compute each page's aggregates into the read cache; returns seconds per page. A
    warmer that fails is logged and skipped: the page computes on its first read."""
    took: dict[str, float] = {}
    for warmer in WARMERS:
        began = time.perf_counter()
        try:
            with session_scope(settings) as session:
                warmer(session, settings)
        except Exception:  # noqa: BLE001 - a cold cache is slower, never wrong
            log.exception("warming %s failed", warmer.__name__)
            continue
        took[warmer.__name__] = time.perf_counter() - began
    log.info("read cache warm: %s", ", ".join(f"{k} {v:.2f} s" for k, v in took.items()))
    return took


def warm_in_background(settings: Settings) -> threading.Thread:
    thread = threading.Thread(target=warm, args=(settings,), name="mobilise-warm", daemon=True)
    thread.start()
    return thread
