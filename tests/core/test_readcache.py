"""The read cache keyed on the audit log's head: a value holds until something is audited
(here or in another session), a rolled-back change does not poison it, entries expire and
the cache stays small."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from mobilise.core import audit
from mobilise.core.db import session_factory
from mobilise.core.readcache import FigureStore, ReadCache, audit_head
from mobilise.core.settings import Settings
from tests.factories import ADMIN


class Counter:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> int:
        self.calls += 1
        return self.calls


def _audit_something(session: Session, n: int) -> None:
    audit.event(session, ADMIN, "test.touch", "test", str(n), {"n": n})
    session.commit()


def test_a_value_holds_until_something_is_audited(settings: Settings) -> None:
    cache, compute = ReadCache(), Counter()
    reader, writer = session_factory(settings)(), session_factory(settings)()
    try:
        assert cache.get(reader, "x", 1, compute) == 1
        reader.rollback()
        assert cache.get(reader, "x", 1, compute) == 1  # nothing audited since
        assert cache.get(reader, "x", 2, compute) == 2  # another key
        _audit_something(writer, 1)  # another session (or process) changes something
        reader.rollback()
        assert cache.get(reader, "x", 1, compute) == 3
        assert (cache.hits, cache.misses) == (1, 3)
    finally:
        reader.close()
        writer.close()


def test_a_rolled_back_change_does_not_poison_the_cache(settings: Settings) -> None:
    cache, compute = ReadCache(), Counter()
    s = session_factory(settings)()
    try:
        audit.event(s, ADMIN, "test.touch", "test", "1", {"n": 1})
        taken = audit_head(s)
        assert cache.get(s, "x", 1, compute) == 1  # read inside the doomed transaction
        s.rollback()
        audit.event(s, ADMIN, "test.touch", "test", "2", {"n": 2})
        s.commit()
        assert audit_head(s)[0] == taken[0]  # the same number, taken again...
        assert cache.get(s, "x", 1, compute) == 2  # ...but not the same head
    finally:
        s.close()


def test_entries_expire_and_the_cache_stays_small(settings: Settings) -> None:
    now = [0.0]
    cache, compute = ReadCache(entries=2, max_age=10, clock=lambda: now[0]), Counter()
    s = session_factory(settings)()
    try:
        assert cache.get(s, "x", 1, compute) == 1
        now[0] = 9.9
        assert cache.get(s, "x", 1, compute) == 1
        now[0] = 10.0
        assert cache.get(s, "x", 1, compute) == 2  # expired
        cache.get(s, "x", 2, compute)
        cache.get(s, "x", 3, compute)  # the least recently used (key 1) goes
        assert cache.get(s, "x", 1, compute) == 5
    finally:
        s.close()


def _read_in_thread(settings: Settings, cache: ReadCache, compute: Any,
                    outcome: list[object]) -> threading.Thread:
    """A reader on a thread and a session of its own; what it gets (or raises) goes
    into ``outcome``."""

    def read() -> None:
        s = session_factory(settings)()
        try:
            outcome.append(cache.get(s, "x", 1, compute))
        except RuntimeError as err:
            outcome.append(err)
        finally:
            s.close()

    thread = threading.Thread(target=read)
    thread.start()
    return thread


def test_readers_who_miss_together_share_one_computation(settings: Settings) -> None:
    cache = ReadCache()
    started, release = threading.Event(), threading.Event()
    calls: list[int] = []

    def slow() -> str:
        calls.append(1)
        started.set()
        assert release.wait(10)
        return "aggregate"

    results: list[object] = []
    first = _read_in_thread(settings, cache, slow, results)
    assert started.wait(10)
    others = [_read_in_thread(settings, cache, slow, results) for _ in range(4)]
    deadline = time.monotonic() + 10
    while cache.waits < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    release.set()
    for t in [first, *others]:
        t.join(10)
    assert results == ["aggregate"] * 5
    assert len(calls) == 1
    assert (cache.misses, cache.waits) == (1, 4)


def test_a_failed_computation_is_not_cached_and_waiters_compute_again(
        settings: Settings) -> None:
    cache = ReadCache()
    started, release = threading.Event(), threading.Event()

    def failing() -> str:
        started.set()
        assert release.wait(10)
        raise RuntimeError("database went away")

    outcome: list[object] = []
    first = _read_in_thread(settings, cache, failing, outcome)
    assert started.wait(10)
    waiter = _read_in_thread(settings, cache, lambda: "computed by the waiter", outcome)
    deadline = time.monotonic() + 10
    while cache.waits < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    release.set()
    first.join(10)
    waiter.join(10)
    assert isinstance(outcome[0], RuntimeError)
    assert outcome[1] == "computed by the waiter"
    s = session_factory(settings)()
    try:  # nothing was cached by the failure: the next reader computes
        assert cache.get(s, "x", 1, lambda: "fresh") == "fresh"
    finally:
        s.close()


def test_while_one_reader_computes_after_a_change_the_others_get_the_value_before_it(
        settings: Settings) -> None:
    cache = ReadCache()
    reader, writer = session_factory(settings)(), session_factory(settings)()
    started, release = threading.Event(), threading.Event()

    def slow() -> str:
        started.set()
        assert release.wait(10)
        return "after"

    try:
        assert cache.get(reader, "x", 1, lambda: "before") == "before"
        _audit_something(writer, 1)
        reader.rollback()
        results: list[object] = []
        computing = _read_in_thread(settings, cache, slow, results)
        assert started.wait(10)
        # Meanwhile: the value from before the change, at once.
        assert cache.get(reader, "x", 1, slow) == "before"
        assert cache.stale == 1
        release.set()
        computing.join(10)
        assert results == ["after"]
        reader.rollback()
        assert cache.get(reader, "x", 1, slow) == "after"  # and from then on, the new one
    finally:
        reader.close()
        writer.close()


def test_a_reader_who_accepts_stale_figures_gets_them_for_a_while_after_a_change(
        settings: Settings) -> None:
    now = [0.0]
    cache, compute = ReadCache(clock=lambda: now[0]), Counter()
    reader, writer = session_factory(settings)(), session_factory(settings)()
    try:
        assert cache.get(reader, "x", 1, compute, stale=30) == 1
        now[0] = 20.0
        assert cache.get(reader, "x", 1, compute, stale=30) == 1  # a hit: found current
        _audit_something(writer, 1)
        reader.rollback()
        now[0] = 45.0  # 25 s after it was last found current
        assert cache.get(reader, "x", 1, compute, stale=30) == 1
        assert cache.get(reader, "x", 1, compute, stale=0) == 2  # this reader wants it now
        assert cache.get(reader, "x", 1, compute, stale=30) == 2
        _audit_something(writer, 2)
        reader.rollback()
        now[0] = 76.0  # 31 s after: too old to pass for current
        assert cache.get(reader, "x", 1, compute, stale=30) == 3
        assert (cache.hits, cache.misses, cache.stale) == (2, 3, 1)
    finally:
        reader.close()
        writer.close()


def test_the_figure_store_shares_whole_values_and_shrugs_off_bad_files(tmp_path: Path) -> None:
    store = FigureStore(tmp_path / "figures")
    assert store.load(("overview", 1, "db")) is None
    store.save(("overview", 1, "db"), (7, "abc"), {"active": 12}, 100.0)
    assert store.load(("overview", 1, "db")) == ((7, "abc"), {"active": 12}, 100.0)
    assert FigureStore(tmp_path / "figures").load(("overview", 1, "db")) == (
        (7, "abc"), {"active": 12}, 100.0)  # another process
    assert store.load(("overview", 2, "db")) is None
    (path,) = (tmp_path / "figures").glob("*.pickle")
    path.write_bytes(b"half a pickle")
    assert FigureStore(tmp_path / "figures").load(("overview", 1, "db")) is None
    assert list((tmp_path / "figures").glob("*.partial")) == []
    store.save(("lambda", 1, "db"), (8, "x"), lambda: None, 100.0)  # cannot be shared: not saved
    assert store.load(("lambda", 1, "db")) is None


def test_a_process_takes_another_s_figures_while_they_are_current_or_recent_enough(
        settings: Settings, tmp_path: Path) -> None:
    now = [1000.0]
    store = FigureStore(tmp_path / "figures")
    refresher = ReadCache(clock=lambda: now[0], store=store)
    server = ReadCache(clock=lambda: now[0], store=store)
    reader, writer = session_factory(settings)(), session_factory(settings)()
    try:
        assert refresher.get(reader, "x", 1, lambda: "worked out") == "worked out"
        assert server.get(reader, "x", 1, lambda: "again") == "worked out"  # current
        assert (server.misses, server.shared) == (0, 1)
        _audit_something(writer, 1)
        reader.rollback()
        fresh = ReadCache(clock=lambda: now[0], store=store)  # a process started since
        now[0] = 1020.0
        assert fresh.get(reader, "x", 1, lambda: "again", stale=30) == "worked out"
        assert fresh.get(reader, "x", 1, lambda: "again", stale=0) == "again"
        other = ReadCache(clock=lambda: now[0], store=store)
        assert other.get(reader, "x", 1, lambda: "unused", stale=30) == "again"  # shared
        now[0] = 1100.0
        _audit_something(writer, 2)
        reader.rollback()
        late = ReadCache(clock=lambda: now[0], store=store)  # 80 s on: too old
        assert late.get(reader, "x", 1, lambda: "third", stale=30) == "third"
    finally:
        reader.close()
        writer.close()
