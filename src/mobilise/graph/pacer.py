"""One pacer per process: a token bucket of Graph resource units per minute, plus a pause
that every caller honours after a 429 or 503 (Microsoft throttles per app, so when one
request is told to wait, all of this process's requests wait)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

# Microsoft's guidance: about 1 unit for a single-item read, 2 for a create or upload.
COSTS = {"GET": 1, "HEAD": 1, "DELETE": 1}


def cost_of(method: str) -> int:
    return COSTS.get(method.upper(), 2)


class Pacer:
    def __init__(self, units_per_minute: int, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if units_per_minute <= 0:
            raise ValueError("units_per_minute must be positive")
        self.units_per_minute = units_per_minute
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._units = float(units_per_minute)
        self._at = clock()
        self._paused_until = 0.0

    @property
    def rate(self) -> float:
        return self.units_per_minute / 60.0

    def acquire(self, units: int = 1) -> float:
        """Block until ``units`` are available and no pause is in force; returns seconds
        waited. Units are reserved at once, so concurrent callers queue fairly."""
        waited = 0.0
        ready_at: float | None = None
        while True:
            with self._lock:
                now = self._clock()
                self._units = min(float(self.units_per_minute),
                                  self._units + (now - self._at) * self.rate)
                self._at = now
                if ready_at is None and self._paused_until <= now:
                    self._units -= units
                    ready_at = now + max(0.0, -self._units) / self.rate
                delay = max(self._paused_until - now, (ready_at or now) - now)
                if ready_at is not None and delay <= 0:
                    return waited
            self._sleep(max(delay, 0.0))
            waited += max(delay, 0.0)

    def pause(self, seconds: float) -> None:
        """Hold every caller for ``seconds`` from now (never shortens a longer pause)."""
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + seconds)

    def paused_for(self) -> float:
        with self._lock:
            return max(0.0, self._paused_until - self._clock())


_process_pacer: Pacer | None = None
_process_lock = threading.Lock()


def process_pacer(units_per_minute: int) -> Pacer:
    """The one pacer of this process, made on first use with the configured rate."""
    global _process_pacer
    with _process_lock:
        if _process_pacer is None:
            _process_pacer = Pacer(units_per_minute)
        return _process_pacer
