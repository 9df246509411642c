"""A small read cache for aggregates that many people read and few change (the overview's
panels, the register summary), keyed on the audit log's head.

Every change to the registers is audited in the same transaction (core.audit refuses a
flush that is not), and each audited change moves the head (``audit_head.seq``). So while
the head stands still, an aggregate read before still holds, and any change, from this
process or another, makes the next read compute afresh. Entries also expire after
``max_age`` seconds, for what moves with the clock alone. Cached values are shared between
requests: cache only values nobody mutates (no ORM objects).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilise.core.audit import AuditHead

T = TypeVar("T")


def audit_head(session: Session) -> tuple[int, str]:
    """The sequence number and hash of the last audited change. The hash too: a number
    taken by a transaction that rolled back is taken again by another change."""
    row = session.execute(select(AuditHead.seq, AuditHead.hash)).first()
    return (row[0], row[1]) if row is not None else (0, "")


class _Computing:
    """One reader's computation that others with the same key wait for."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.ok = False


class ReadCache:
    def __init__(self, entries: int = 256, max_age: float = 600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.entries, self.max_age, self._clock = entries, max_age, clock
        self._values: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._computing: dict[Hashable, _Computing] = {}
        # The newest value of each (name, key, database), whatever the head it was read
        # at: what a reader gets while another computes the value after a change.
        self._latest: dict[Hashable, tuple[float, Any, int]] = {}
        self._lock = threading.Lock()
        self.hits = self.misses = self.waits = self.stale = 0

    def get(self, session: Session, name: str, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``, or its value from an earlier call with the same ``name`` and
        ``key`` on the same database while nothing has been audited since.

        After a change, the first reader computes the value afresh; readers who arrive
        while it does get the value from before the change (at most ``max_age`` old) or,
        if there is none, wait for it: fifty people opening the overview after a change
        cost one computation, not fifty on two cores, and none of them waits for it but
        the first. Someone reading alone always sees every change before the read."""
        place = (name, key, str(session.get_bind().engine.url))
        full = (*place, audit_head(session))
        now = self._clock()
        with self._lock:
            found = self._values.get(full)
            if found is not None and now - found[0] < self.max_age:
                self._values.move_to_end(full)
                self.hits += 1
                return found[1]  # type: ignore[no-any-return]
            computing = self._computing.get(full)
            if computing is None:
                computing = self._computing[full] = _Computing()
                self.misses += 1
                mine = True
            else:
                mine = False
                before = self._latest.get(place)
                if before is not None and now - before[0] < self.max_age:
                    self.stale += 1
                    return before[1]  # type: ignore[no-any-return]
                self.waits += 1
        if not mine:
            computing.done.wait(self.max_age)
            # The other reader failed (or is stuck): compute for ourselves.
            return computing.value if computing.ok else compute()  # type: ignore[no-any-return]
        try:
            value = compute()
            with self._lock:
                self._values[full] = (now, value)
                self._values.move_to_end(full)
                newest = self._latest.get(place)
                if newest is None or newest[2] <= full[3][0]:  # not older than the one kept
                    self._latest[place] = (now, value, full[3][0])
                while len(self._values) > self.entries:
                    self._values.popitem(last=False)
                while len(self._latest) > self.entries:
                    self._latest.pop(next(iter(self._latest)))
            computing.value, computing.ok = value, True
            return value
        finally:
            with self._lock:
                self._computing.pop(full, None)
            computing.done.set()

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self._latest.clear()


# One per process, like the engine: the web app's aggregates share it.
aggregates = ReadCache()
