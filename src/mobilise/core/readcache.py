"""A small read cache for aggregates that many people read and few change (the overview's
panels, the register summary), keyed on the audit log's head.

Every change to the registers is audited in the same transaction (core.audit refuses a
flush that is not), and each audited change moves the head (``audit_head.seq``). So while
the head stands still, an aggregate read before still holds, and any change, from this
process or another, makes it out of date. Values also expire after ``max_age`` seconds,
for what moves with the clock alone. Cached values are shared between requests: cache
only values nobody mutates (no ORM objects).

How out of date a reader accepts is the reader's choice (``stale``): 0 sees every change
on the next read and pays for the computation; the web pages accept the figures from
before a change for ``Settings.web_aggregates_stale_seconds`` while ``web.warm`` works
them out again in the background, so a service desk recording hand-overs all day does
not make every reader of the overview wait a second for it.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
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


@dataclass
class _Entry:
    value: Any
    head: tuple[int, str]
    computed_at: float
    current_at: float  # when a reader last found it current (the head unmoved)


class FigureStore:
    """Values shared between the processes of one server: a pickle per value in a folder
    only Mobilise writes (``data_dir/figures``), replaced whole, so a reader sees an old
    value or a new one, never half of one. Whoever works a value out writes it; the
    others take it from here instead of working it out again."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, place: Hashable) -> Path:
        return self.folder / (hashlib.sha256(repr(place).encode()).hexdigest()[:32] + ".pickle")

    def load(self, place: Hashable) -> tuple[tuple[int, str], Any, float] | None:
        """(head, value, when it was last known current) last written for ``place``."""
        try:
            loaded = pickle.loads(self._path(place).read_bytes())  # noqa: S301 - our folder
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
            return None  # none yet, or from another version: work it out instead
        return loaded  # type: ignore[no-any-return]

    def save(self, place: Hashable, head: tuple[int, str], value: Any,
             current_at: float) -> None:
        path = self._path(place)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.partial")
            partial.write_bytes(pickle.dumps((head, value, current_at),
                                             pickle.HIGHEST_PROTOCOL))
            os.replace(partial, path)
        except (OSError, pickle.PicklingError, TypeError, AttributeError):
            return  # shared is faster, never required


class _Computing:
    """One reader's computation that others with the same key wait for."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.ok = False


class ReadCache:
    def __init__(self, entries: int = 256, max_age: float = 600.0,
                 clock: Callable[[], float] = time.time,
                 store: FigureStore | None = None) -> None:
        self.entries, self.max_age, self._clock = entries, max_age, clock
        self.store = store  # values shared with the server's other processes, if set
        # The newest value of each (name, key, database), whatever the head it was read at.
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._computing: dict[Hashable, _Computing] = {}
        self._lock = threading.Lock()
        self.hits = self.misses = self.waits = self.stale = self.shared = 0

    def get(self, session: Session, name: str, key: Hashable, compute: Callable[[], T],
            stale: float = 0.0) -> T:
        """``compute()``, or its value from an earlier call with the same ``name`` and
        ``key`` on the same database while nothing has been audited since.

        After a change, a reader who accepts ``stale`` seconds gets the value from before
        it if that was found current less than ``stale`` seconds ago. Otherwise the first
        reader computes the value afresh, and those who arrive while it does get the
        value from before the change (at most ``max_age`` old) or, if there is none, wait
        for it: fifty people opening the overview after a change cost one computation,
        not fifty on two cores. With ``stale=0``, someone reading alone sees every
        change made before the read."""
        place = (name, key, str(session.get_bind().engine.url))
        head = audit_head(session)
        now = self._clock()  # the wall clock: the store compares it across processes
        with self._lock:
            entry = self._entries.get(place)
            if entry is not None:
                self._entries.move_to_end(place)
                if entry.head == head and now - entry.computed_at < self.max_age:
                    entry.current_at = now
                    self.hits += 1
                    return entry.value  # type: ignore[no-any-return]
                if now - entry.current_at < stale:
                    self.stale += 1
                    return entry.value  # type: ignore[no-any-return]
        shared = self._from_store(place, head, now, stale, entry)
        if shared is not None:
            return shared.value  # type: ignore[no-any-return]
        with self._lock:
            computing = self._computing.get((place, head))
            mine = computing is None
            if computing is None:
                computing = self._computing[(place, head)] = _Computing()
                self.misses += 1
            elif entry is not None and now - entry.computed_at < self.max_age:
                self.stale += 1
                return entry.value  # type: ignore[no-any-return]
            else:
                self.waits += 1
        if not mine:
            return self._wait(computing, compute)
        return self._compute(place, head, now, computing, compute)

    def _from_store(self, place: Hashable, head: tuple[int, str], now: float, stale: float,
                    entry: _Entry | None) -> _Entry | None:
        """What another process worked out, if it is current, or was current recently
        enough for this reader, and no older than what this process holds."""
        found = self.store.load(place) if self.store is not None else None
        if found is None:
            return None
        found_head, value, current_at = found
        if found_head == head:
            current_at = now
        elif now - current_at >= stale:
            return None
        if entry is not None and found_head[0] < entry.head[0]:
            return None
        adopted = _Entry(value, found_head, now, current_at)
        with self._lock:
            self._entries[place] = adopted
            self._entries.move_to_end(place)
            self.shared += 1
        return adopted

    def _wait(self, computing: _Computing, compute: Callable[[], T]) -> T:
        computing.done.wait(self.max_age)
        # The other reader failed (or is stuck): compute for ourselves.
        return computing.value if computing.ok else compute()  # type: ignore[no-any-return]

    def _compute(self, place: Hashable, head: tuple[int, str], now: float,
                 computing: _Computing, compute: Callable[[], T]) -> T:
        try:
            value = compute()
            if self.store is not None:
                self.store.save(place, head, value, now)
            with self._lock:
                kept = self._entries.get(place)
                if kept is None or kept.head[0] <= head[0]:  # never replace a newer value
                    self._entries[place] = _Entry(value, head, now, now)
                    self._entries.move_to_end(place)
                while len(self._entries) > self.entries:
                    self._entries.popitem(last=False)
            computing.value, computing.ok = value, True
            return value
        finally:
            with self._lock:
                self._computing.pop((place, head), None)
            computing.done.set()

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
        self.store = None


# One per process, like the engine: the web app's aggregates share it.
aggregates = ReadCache()
