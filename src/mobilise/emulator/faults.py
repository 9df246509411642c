"""Fault injection and the resource-unit budget.

Faults are drawn from one ``random.Random(seed)`` in the order requests arrive, so a run
that sends the same requests in the same order meets the same faults. Each Graph request
(not the token endpoint, not the admin API) draws exactly two numbers whatever happens, so
one fault does not shift the ones after it.

The resource-unit budget is a token bucket per app (client id) refilled continuously at
``ru_per_minute``; costs follow Microsoft's guidance (about 1 unit for a single-item read,
2 for a create or upload, 1 for a delete).
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import asdict, dataclass, fields
from typing import Any

from mobilise.emulator.errors import GraphFault


@dataclass
class FaultConfig:
    seed: int = 0
    throttle_rate: float = 0.0      # share of requests answered 429 + Retry-After
    unavailable_rate: float = 0.0   # share answered 503 + Retry-After
    reset_rate: float = 0.0         # share whose connection is cut in the middle of the body
    latency_ms: float = 0.0         # added to a request, uniformly 0..2x this mean
    latency_rate: float = 0.0       # share of requests that get the latency
    retry_after: float = 1.0        # seconds given in Retry-After for injected 429/503
    ru_per_minute: int = 0          # 0: no budget
    session_idle_seconds: float = 900.0   # an upload session expires this long after use
    session_max_seconds: float = 86_400.0
    intune_writes_per_20s: int = 200     # Intune device actions per app per 20 s; 0: none

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        return cls(**{k: v for k, v in data.items()})

    def merged(self, changes: dict[str, Any]) -> FaultConfig:
        return FaultConfig.from_dict({**asdict(self), **changes})

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Decision:
    latency: float = 0.0
    fault: str | None = None      # "throttle", "unavailable", "reset-before", "reset-after"


class FaultPlan:
    def __init__(self, config: FaultConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)

    def reconfigure(self, config: FaultConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)

    def draw(self) -> Decision:
        c = self.config
        roll, second = self.rng.random(), self.rng.random()
        decision = Decision()
        if c.latency_ms and second < c.latency_rate:
            decision.latency = (c.latency_ms / 1000.0) * 2 * (second / c.latency_rate)
        if roll < c.throttle_rate:
            decision.fault = "throttle"
        elif roll < c.throttle_rate + c.unavailable_rate:
            decision.fault = "unavailable"
        elif roll < c.throttle_rate + c.unavailable_rate + c.reset_rate:
            # A reset may come before or after the service acted: clients must cope with both.
            decision.fault = "reset-after" if second < 0.5 else "reset-before"
        return decision

    def throttled(self) -> GraphFault:
        return GraphFault(
            429, "activityLimitReached", "The request has been throttled.",
            inner="throttledRequest", headers={"Retry-After": _seconds(self.config.retry_after)},
        )

    def unavailable(self) -> GraphFault:
        return GraphFault(
            503, "serviceNotAvailable", "The service is temporarily unavailable.",
            headers={"Retry-After": _seconds(self.config.retry_after)},
        )


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


class ResourceBudget:
    """Per-app token buckets of resource units."""

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}  # app -> (units, at)

    def charge(self, app: str, cost: int, per_minute: int) -> None:
        if per_minute <= 0:
            return
        rate = per_minute / 60.0
        now = time.monotonic()
        units, at = self._buckets.get(app, (float(per_minute), now))
        units = min(float(per_minute), units + (now - at) * rate)
        if units < cost:
            self._buckets[app] = (units, now)
            wait = max(1, math.ceil((cost - units) / rate))
            raise GraphFault(
                429, "activityLimitReached",
                "The application has used its resource units for this minute.",
                inner="throttledRequest",
                headers={
                    "Retry-After": str(wait),
                    "RateLimit-Limit": str(per_minute),
                    "RateLimit-Remaining": "0",
                    "RateLimit-Reset": str(wait),
                },
            )
        self._buckets[app] = (units - cost, now)


def request_cost(method: str) -> int:
    return {"GET": 1, "DELETE": 1, "HEAD": 1}.get(method, 2)
