"""The per-person sync: rclone's model, two sorted listings compared and what differs copied.

``sync_person`` is the idempotent unit of work. It lists the source and the destination,
plans every file (copy new, copy changed, skip identical; destination-newer and
destination-only files are reported and never touched), then copies concurrently,
hashing while reading and verifying each copy against what arrived. The source is only
ever read. A crash at any moment is repaired by running it again: the plan is made from
the two sides, never from the journal.

Only files whose retention decision is ``migrate`` go to the main destination; ``archive``
files go to the archive backend; ``review`` files wait (and block cutover); ``dispose``
files stay where they are until an approved disposal batch removes them.
"""

from __future__ import annotations

import gc
import io
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any, BinaryIO

from mobilise.core.clock import Clock, SystemClock
from mobilise.core.progress import NullProgress, Progress
from mobilise.migration.files import (
    PARTIAL_PREFIX,
    PARTIAL_SUFFIX,
    SMALL_FILE,
    Disposition,
    FileResult,
    Outcome,
    PlannedFile,
    Step,
)
from mobilise.migration.journal import Journal, Record
from mobilise.storage.base import (
    Backend,
    Capability,
    Entry,
    EntryKind,
    EntryNotFound,
    SizeMismatch,
    StorageError,
)
from mobilise.storage.quickxor import QuickXorHash
from mobilise.storage.streams import read_chunks

HASH_NAME = "quickxor"  # the key of Entry.hashes a backend with a native quickXorHash fills
@dataclass
class SyncResult:
    files: list[FileResult] = field(default_factory=list)
    throttle_events: int = 0
    seconds: float = 0.0
    final_concurrency: int = 0

    def count(self, outcome: Outcome) -> int:
        return sum(1 for f in self.files if f.outcome is outcome)

    def by_outcome(self) -> dict[str, int]:
        counts = {o.value: 0 for o in Outcome}
        for f in self.files:
            counts[f.outcome.value] += 1
        return counts

    @property
    def bytes_copied(self) -> int:
        return sum(f.size for f in self.files if f.outcome is Outcome.COPIED)

    @property
    def complete(self) -> bool:
        """Nothing left to do this round but what waits on people (review) or is
        reported only."""
        return not any(f.outcome in (Outcome.FAILED, Outcome.SOURCE_CHANGED) for f in self.files)


# --------------------------------------------------------------------------- listing


def is_partial(name: str) -> bool:
    return name.startswith(PARTIAL_PREFIX) and name.endswith(PARTIAL_SUFFIX)


def walk(backend: Backend, under: str = "") -> Iterator[Entry]:
    """Every entry below ``under`` (folders first visited, then their children), in
    sorted order, one folder listed at a time so memory stays flat on deep trees."""
    children = sorted(backend.list(under), key=lambda e: e.path)
    for entry in children:
        yield entry
        if entry.kind is EntryKind.FOLDER:
            yield from walk(backend, entry.path)


def list_files(backend: Backend, under: str = "") -> dict[str, Entry]:
    """The files below ``under`` keyed by path; through one delta stream when the
    backend has one (a folder-by-folder walk of a large OneDrive costs a request per
    folder), else by walking."""
    delta = getattr(backend, "delta", None)
    if Capability.DELTA in backend.capabilities and callable(delta):
        listing = delta(None)
        prefix = under.strip("/")
        return {
            e.path: e for e in listing.entries
            if e.kind is EntryKind.FILE
            and (not prefix or e.path == prefix or e.path.startswith(prefix + "/"))
        }
    try:
        return {e.path: e for e in walk(backend, under) if e.kind is EntryKind.FILE}
    except EntryNotFound:
        return {}


def remediated_path(path: str, renames: Mapping[str, str]) -> str:
    """The destination path of source ``path``. ``renames`` maps a source path (file or
    folder) to its remediated path; only the last segment of each is taken, so a renamed
    file inside a renamed folder gets both names (the assessment proposes each entry's
    new name next to its original siblings)."""
    if not renames:
        return path
    parts = path.split("/")
    out = []
    for depth in range(1, len(parts) + 1):
        prefix = "/".join(parts[:depth])
        renamed = renames.get(prefix)
        out.append(renamed.rsplit("/", 1)[-1] if renamed else parts[depth - 1])
    return "/".join(out)


# --------------------------------------------------------------------------- planning


def same_time(a: datetime, b: datetime, precision: timedelta) -> bool:
    return abs(a - b) <= precision


def _compare(source: Entry, dest: Entry | None,
             precision: timedelta) -> tuple[Step, Outcome | None]:
    if dest is None:
        return Step.COPY_NEW, None
    if dest.size == source.size and same_time(dest.modified, source.modified, precision):
        return Step.SKIP, Outcome.SKIPPED
    if dest.modified > source.modified + precision:
        return Step.REPORT, Outcome.DESTINATION_NEWER
    return Step.COPY_CHANGED, None


@dataclass
class Sides:
    """The listings a plan is made from."""

    source: list[Entry]  # every entry of the source (files, links, special files)
    main: dict[str, Entry]  # files at the main destination
    archive: dict[str, Entry] | None  # files at the archive, None when there is none
    precision: timedelta
    archive_precision: timedelta = timedelta(0)
    # Keyed by case-folded path: OneDrive names are case-insensitive, so Report.doc and
    # report.doc are one file there.
    folded: dict[str, dict[str, Entry]] = field(init=False)

    def __post_init__(self) -> None:
        self.folded = {"main": {p.casefold(): e for p, e in self.main.items()}}
        if self.archive is not None:
            self.folded["archive"] = {p.casefold(): e for p, e in self.archive.items()}


def plan_files(
    sides: Sides,
    dispositions: Mapping[str, Disposition | str] | None = None,
    renames: Mapping[str, str] | None = None,
) -> list[PlannedFile]:
    """One planned step per source file and per destination-only file.

    Without ``dispositions`` every file migrates; with them, a file that has no decision
    waits for review rather than moving on a guess.
    """
    plan: list[PlannedFile] = []
    claimed: dict[tuple[str, str], str] = {}  # (target, folded dest path) → source path
    for entry in sides.source:
        if entry.kind is EntryKind.FOLDER:
            continue
        dest_path = remediated_path(entry.path, renames or {})
        if entry.kind is not EntryKind.FILE:
            plan.append(PlannedFile(entry, dest_path, "main", Step.REPORT, Outcome.NOT_MOVED,
                                    f"a {entry.kind.value}, not a file"))
            continue
        disposition, rule = _disposition(entry.path, dispositions)
        plan.append(_plan_one(entry, dest_path, disposition, sides, claimed, rule))
    for folded, dest in sorted(sides.folded["main"].items()):
        if ("main", folded) not in claimed:
            plan.append(PlannedFile(None, dest.path, "main", Step.REPORT,
                                    Outcome.DESTINATION_ONLY, "only at the destination"))
    return plan


def _disposition(path: str, dispositions: Mapping[str, Disposition | str] | None
                 ) -> tuple[Disposition | None, str | None]:
    """The action for a file, and the rule that decided it: values are ``action`` or
    ``action:rule`` (the rule is named in the report of files that do not move)."""
    if dispositions is None:
        return Disposition.MIGRATE, None
    value = dispositions.get(path)
    if value is None:
        return None, None
    action, _, rule = str(value).partition(":")
    return Disposition(action), rule or None


def _plan_one(
    entry: Entry,
    dest_path: str,
    disposition: Disposition | None,
    sides: Sides,
    claimed: dict[tuple[str, str], str],
    rule: str | None = None,
) -> PlannedFile:
    under = f" under rule {rule}" if rule else ""
    if disposition is None:
        return PlannedFile(entry, dest_path, "main", Step.REPORT, Outcome.WAITING,
                           "no retention decision yet")
    if disposition is Disposition.REVIEW:
        return PlannedFile(entry, dest_path, "main", Step.REPORT, Outcome.WAITING,
                           f"retention review pending{under}")
    if disposition is Disposition.DISPOSE:
        # Disposal happens only through an approved batch, never as a side effect here.
        return PlannedFile(entry, dest_path, "main", Step.REPORT, Outcome.NOT_MOVED,
                           f"awaiting disposal{under}")
    target = "archive" if disposition is Disposition.ARCHIVE else "main"
    listing = sides.archive if target == "archive" else sides.main
    if listing is None:
        return PlannedFile(entry, dest_path, target, Step.REPORT, Outcome.NOT_MOVED,
                           "retention: archive, but no archive backend is configured")
    key = (target, dest_path.casefold())
    if key in claimed:
        return PlannedFile(entry, dest_path, target, Step.REPORT, Outcome.NOT_MOVED,
                           f"name collides with {claimed[key]!r} at the destination")
    claimed[key] = entry.path
    dest = listing.get(dest_path) or sides.folded[target].get(dest_path.casefold())
    precision = sides.archive_precision if target == "archive" else sides.precision
    step, outcome = _compare(entry, dest, precision)
    reason = "newer at the destination; not overwritten" \
        if outcome is Outcome.DESTINATION_NEWER else None
    return PlannedFile(entry, dest_path, target, step, outcome, reason, dest)


# --------------------------------------------------------------------------- concurrency


class AdaptiveLimit:
    """How many copies may run at once: halved on throttling, grown by one after a run
    of successes as long as the limit itself, so a throttled migration slows down
    rather than fails, and creeps back up when the service recovers."""

    def __init__(self, start: int, maximum: int, minimum: int = 1) -> None:
        self.maximum = max(1, maximum)
        self.minimum = max(1, min(minimum, self.maximum))
        self.limit = max(self.minimum, min(start, self.maximum))
        self.throttle_events = 0
        self._in_flight = 0
        self._successes = 0
        self._cond = threading.Condition()

    def acquire(self) -> None:
        with self._cond:
            while self._in_flight >= self.limit:
                self._cond.wait()
            self._in_flight += 1

    def release(self) -> None:
        with self._cond:
            self._in_flight -= 1
            self._cond.notify()

    def succeeded(self) -> None:
        with self._cond:
            self._successes += 1
            if self._successes >= self.limit * 4 and self.limit < self.maximum:
                self.limit += 1
                self._successes = 0
                self._cond.notify()

    def throttled(self) -> None:
        with self._cond:
            self.throttle_events += 1
            self.limit = max(self.minimum, self.limit // 2)
            self._successes = 0


def is_throttling(error: BaseException) -> bool:
    """A 429/503 from the service. Graph's client raises ``Throttled`` (mobilise.graph);
    matched by name so storage engines need not import the Graph client."""
    return any(cls.__name__ == "Throttled" for cls in type(error).__mro__) or \
        getattr(error, "status_code", None) in (429, 503)


def retry_delay(error: BaseException, attempt: int) -> float:
    after = getattr(error, "retry_after", None)
    if isinstance(after, int | float) and after > 0:
        return float(after)
    return float(min(30.0, 0.05 * 2.0 ** attempt) * (0.5 + random.random()))


# --------------------------------------------------------------------------- copying


class HashingReader(io.RawIOBase):
    """The source stream, hashed (QuickXorHash) as the destination reads it, so a copy
    reads the source once."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.hasher = QuickXorHash()
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        readinto = getattr(self._stream, "readinto", None)
        if readinto is not None:
            count = readinto(view)
        else:
            data = self._stream.read(len(view))
            count = len(data)
            view[:count] = data
        count = count or 0
        if count:
            self.hasher.update(view[:count])
            self.count += count
        return count


class SmallHashingReader:
    """The same for small files, deliberately not an ``io`` stream: readers then call
    ``read`` instead of filling a reused 4 MiB buffer, whose allocation would cost more
    than copying a small file."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.hasher = QuickXorHash()
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        if data:
            self.hasher.update(data)
            self.count += len(data)
        return data



def hash_entry(backend: Backend, path: str, size: int | None = None) -> str:
    """The quickXorHash of a file as stored, by reading it."""
    hasher = QuickXorHash()
    with backend.open_read(path) as stream:
        if size is not None and size < SMALL_FILE:
            hasher.update(stream.read())
        else:
            for chunk in read_chunks(stream):
                hasher.update(chunk)
    return hasher.b64digest()


def destination_hash(backend: Backend, entry: Entry) -> str:
    """The destination's own hash when it keeps one, else the content read back."""
    if Capability.NATIVE_HASH in backend.capabilities and entry.hashes.get(HASH_NAME):
        return entry.hashes[HASH_NAME]
    return hash_entry(backend, entry.path, entry.size)


class SourceChanged(Exception):
    pass


@dataclass
class Copier:
    source: Backend
    main: Backend
    archive: Backend | None
    limit: AdaptiveLimit
    max_attempts: int = 6
    verify: bool = True
    sleep: Callable[[float], None] = time.sleep

    def backend_for(self, target: str) -> Backend:
        if target == "archive":
            assert self.archive is not None
            return self.archive
        return self.main

    def copy(self, planned: PlannedFile) -> FileResult:
        assert planned.source is not None
        source = planned.source
        attempt = throttled = 0
        result: FileResult | None = None
        while result is None:
            attempt += 1
            try:
                digest = self._copy_once(planned)
            except SourceChanged as exc:
                result = self._result(planned, Outcome.SOURCE_CHANGED, attempt, str(exc))
            except StorageError as exc:
                if is_throttling(exc):
                    throttled += 1
                    self.limit.throttled()
                if (exc.retryable or is_throttling(exc)) and attempt < self.max_attempts:
                    self.sleep(retry_delay(exc, attempt))
                    continue
                result = self._result(planned, Outcome.FAILED, attempt,
                                      f"{type(exc).__name__}: {exc}")
            except OSError as exc:
                result = self._result(planned, Outcome.FAILED, attempt,
                                      f"{type(exc).__name__}: {exc}")
            else:
                self.limit.succeeded()
                result = FileResult(source.path, planned.dest_path, planned.target,
                                    Outcome.COPIED, size=source.size,
                                    modified=source.modified, hash=digest, attempts=attempt)
        result.throttled = throttled  # for live progress: the service pushed back this often
        return result

    def _result(self, planned: PlannedFile, outcome: Outcome, attempts: int,
                reason: str) -> FileResult:
        assert planned.source is not None
        return FileResult(planned.source.path, planned.dest_path, planned.target, outcome,
                          size=planned.source.size, modified=planned.source.modified,
                          reason=reason, attempts=attempts)

    def _copy_once(self, planned: PlannedFile) -> str | None:
        assert planned.source is not None
        source = planned.source
        destination = self.backend_for(planned.target)
        with self.source.open_read(source.path) as stream:
            reader: HashingReader | SmallHashingReader | None = None
            if self.verify:
                reader = SmallHashingReader(stream) if source.size < SMALL_FILE \
                    else HashingReader(stream)
            try:
                written = destination.write(planned.dest_path, reader or stream,  # type: ignore[arg-type]
                                            source.size, modified=source.modified,
                                            created=source.created)
            except SizeMismatch as exc:
                raise SourceChanged(f"the source changed size while it was read: {exc}") from exc
        # What was read must still be what the source holds: a file written to while we
        # read it may have given us a mixture. Such a copy is never recorded verified;
        # its modified time (the old one) makes the next round copy it again.
        now = self.source.stat(source.path)
        if now.size != source.size or now.modified != source.modified:
            raise SourceChanged("the source changed while it was copied; next round")
        if written.size != source.size:
            raise _VerifyFailed(f"{planned.dest_path!r}: {written.size} bytes arrived, "
                                f"not {source.size}")
        if not same_time(written.modified, source.modified,
                         max(destination.time_precision, self.source.time_precision)):
            raise _VerifyFailed(f"{planned.dest_path!r}: the modified time was not kept "
                                f"({written.modified.isoformat()})")
        if reader is None:
            return None  # an unverified copy (benchmarks, trials): sizes only
        digest = reader.hasher.b64digest()
        arrived = destination_hash(destination, written)
        if arrived != digest:
            raise _VerifyFailed(f"{planned.dest_path!r}: quickXorHash {arrived} at the "
                                f"destination, {digest} read from the source")
        return digest


class _VerifyFailed(StorageError):
    """The copy arrived different from what was read; worth another attempt."""

    retryable = True


# --------------------------------------------------------------------------- the sync


@dataclass
class SyncOptions:
    concurrency: int = 8
    max_concurrency: int = 32
    max_attempts: int = 6
    # Partial files left by a crashed writer older than this are removed.
    stale_partial_after: timedelta = timedelta(minutes=30)
    clock: Clock | None = None
    # Off only to measure what verification costs: an unverified copy is checked by size.
    verify: bool = True


def sync_person(
    source: Backend,
    main: Backend,
    *,
    archive: Backend | None = None,
    dispositions: Mapping[str, Disposition | str] | None = None,
    renames: Mapping[str, str] | None = None,
    journal: Journal | None = None,
    options: SyncOptions | None = None,
    progress: Progress | None = None,
    under: Iterable[str] = ("",),
) -> SyncResult:
    """Bring ``main`` (and ``archive``) up to date with ``source`` for the folders
    ``under`` (a shard; the whole drive by default). Safe to run any number of times,
    concurrently with a crashed earlier run's leftovers."""
    with collector_paused():
        return _sync(source, main, archive, dispositions, renames, journal,
                     options or SyncOptions(), progress or NullProgress(), under)


def _sync(source: Backend, main: Backend, archive: Backend | None,
          dispositions: Mapping[str, Disposition | str] | None,
          renames: Mapping[str, str] | None, journal: Journal | None, options: SyncOptions,
          progress: Progress, under: Iterable[str]) -> SyncResult:
    started = time.monotonic()
    plan: list[PlannedFile] = []
    for prefix in under:
        plan += plan_files(_sides(source, main, archive, prefix, options), dispositions, renames)
    result = SyncResult()
    limit = AdaptiveLimit(options.concurrency, options.max_concurrency)
    copier = Copier(source, main, archive, limit, options.max_attempts, options.verify)
    plan = [_own_interrupted_copy(copier, p) for p in plan]
    to_copy = [p for p in plan if p.step in (Step.COPY_NEW, Step.COPY_CHANGED)]
    progress.start(len(plan), "sync")
    reported = [_reported(p) for p in plan if p.step in (Step.SKIP, Step.REPORT)]
    _record_many(result, journal, reported)
    progress.advance(len(reported))
    _copy_all(copier, to_copy, limit, result, journal, progress)
    result.seconds = time.monotonic() - started
    result.throttle_events = limit.throttle_events
    result.final_concurrency = limit.limit
    progress.finish(f"{result.count(Outcome.COPIED)} copied")
    return result


_collector_lock = threading.Lock()
_collector_users = 0
_collector_was_enabled = True
_collected_at = 0.0
COLLECT_AT_LEAST_EVERY = 60.0  # seconds


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused while syncs run. A sync of a large drive
    makes a few objects per file (entries, plans, results), none of them in cycles, and
    the collector would otherwise walk all of them again and again as they accumulate,
    costing as much as the planning itself. Reference counting still frees everything;
    the collector runs again when the last concurrent sync ends."""
    global _collector_users, _collector_was_enabled, _collected_at
    with _collector_lock:
        _collector_users += 1
        if _collector_users == 1:
            _collector_was_enabled = gc.isenabled()
            _collected_at = time.monotonic()
            gc.disable()
    try:
        yield
    finally:
        with _collector_lock:
            _collector_users -= 1
            if _collector_users == 0 and _collector_was_enabled:
                gc.enable()
            elif _collector_was_enabled and \
                    time.monotonic() - _collected_at > COLLECT_AT_LEAST_EVERY:
                # Syncs overlapping without a break (a pool's shards, one after another)
                # would keep the collector off for the whole round; a process that also
                # serves the web makes cyclic garbage meanwhile, so collect now and then.
                gc.collect()
                _collected_at = time.monotonic()


def _own_interrupted_copy(copier: Copier, planned: PlannedFile) -> PlannedFile:
    """A destination file that looks newer but holds exactly the source's content is our
    own copy whose times never got set (a crash between writing a file and setting its
    times, as an empty OneDrive file needs two requests): writing it again loses nothing
    and puts the right times on it. Any other newer file is left alone."""
    if planned.outcome is not Outcome.DESTINATION_NEWER or planned.source is None \
            or planned.dest is None or planned.dest.size != planned.source.size:
        return planned
    destination = copier.backend_for(planned.target)
    try:
        same = destination_hash(destination, planned.dest) == \
            hash_entry(copier.source, planned.source.path, planned.source.size)
    except StorageError:
        return planned
    if not same:
        return planned
    return PlannedFile(planned.source, planned.dest_path, planned.target, Step.COPY_CHANGED,
                       reason="same content with the wrong times at the destination",
                       dest=planned.dest)


def _sides(source: Backend, main: Backend, archive: Backend | None, prefix: str,
           options: SyncOptions) -> Sides:
    if prefix == ROOT_FILES:
        entries = sorted((e for e in source.list("") if e.kind is not EntryKind.FOLDER),
                         key=lambda e: e.path)
        main_files = _root_files(main)
        archive_files = _root_files(archive) if archive is not None else None
    else:
        entries = list(walk(source, prefix)) if prefix == "" else _walk_shard(source, prefix)
        main_files = list_files(main, prefix)
        archive_files = list_files(archive, prefix) if archive is not None else None
    main_files = _without_partials(main, main_files, options)
    if archive is not None and archive_files is not None:
        archive_files = _without_partials(archive, archive_files, options)
    return Sides(entries, main_files, archive_files,
                 max(source.time_precision, main.time_precision),
                 max(source.time_precision, archive.time_precision) if archive else timedelta(0))


def _root_files(backend: Backend) -> dict[str, Entry]:
    return {e.path: e for e in backend.list("") if e.kind is EntryKind.FILE}


# --------------------------------------------------------------------------- shards

# The shard of the files directly in the root (top-level folders are shards of their own).
ROOT_FILES = ":files-at-root"


def plan_shards(source: Backend, max_files: int) -> list[list[str]]:
    """Split a drive into shards of at most about ``max_files`` files, by top-level
    folder, so that no task runs for hours and a redelivered task redoes little. The
    files at the root are one shard; a single top-level folder larger than the limit is
    a shard of its own. Each shard is a list of ``under`` prefixes for ``sync_person``."""
    return [shard for shard, _ in counted_shards(source, max_files)]


def counted_shards(source: Backend, max_files: int) -> list[tuple[list[str], int]]:
    """``plan_shards`` with the number of source entries (not folders) in each shard,
    for progress: how many files a round has ahead of it."""
    sizes: list[tuple[str, int]] = []
    at_root = 0
    for entry in sorted(source.list(""), key=lambda e: e.path):
        if entry.kind is EntryKind.FOLDER:
            sizes.append((entry.path, _count_below(source, entry.path)))
        else:
            at_root += 1
    shards: list[tuple[list[str], int]] = [([ROOT_FILES], at_root)]
    current: list[str] = []
    filled = 0
    for path, count in sizes:
        if current and filled + count > max_files:
            shards.append((current, filled))
            current, filled = [], 0
        current.append(path)
        filled += count
    if current:
        shards.append((current, filled))
    return shards


def _count_below(source: Backend, path: str) -> int:
    """Files (and links, special files) below a folder: cheaply where the backend can
    count without listing entries (local), else by walking."""
    count_below = getattr(source, "count_below", None)
    if callable(count_below):
        return int(count_below(path))
    return sum(1 for e in walk(source, path) if e.kind is not EntryKind.FOLDER)


def _walk_shard(source: Backend, prefix: str) -> list[Entry]:
    top = source.stat(prefix)
    if top.kind is not EntryKind.FOLDER:
        return [top]
    return [top, *walk(source, prefix)]


def _without_partials(backend: Backend, files: dict[str, Entry],
                      options: SyncOptions) -> dict[str, Entry]:
    kept: dict[str, Entry] = {}
    now = (options.clock or SystemClock()).now()
    for path, entry in files.items():
        if not is_partial(entry.name):
            kept[path] = entry
            continue
        if now - entry.modified >= options.stale_partial_after:
            with suppress(StorageError):  # another run removed it first
                backend.remove(path)
    return kept


def _reported(planned: PlannedFile) -> FileResult:
    assert planned.outcome is not None
    source = planned.source
    return FileResult(planned.path, planned.dest_path, planned.target, planned.outcome,
                      size=source.size if source else 0,
                      modified=source.modified if source else None, reason=planned.reason)


def _copy_all(copier: Copier, to_copy: list[PlannedFile], limit: AdaptiveLimit,
              result: SyncResult, journal: Journal | None, progress: Progress) -> None:
    # Imported here: the fast path is built on this module's plan and result types.
    from mobilise.migration import localcopy

    destinations = {"main": copier.main}
    if copier.archive is not None:
        destinations["archive"] = copier.archive
    batches, singles = localcopy.batches(copier.source, destinations, to_copy)
    lock = threading.Lock()
    stats = {"bytes": 0}

    def settle(outcomes: list[FileResult]) -> None:
        with lock:
            _record_many(result, journal, outcomes)
            stats["bytes"] += sum(o.size for o in outcomes if o.outcome is Outcome.COPIED)
            progress.advance(len(outcomes), bytes=stats["bytes"],
                             throttled=limit.throttle_events, concurrency=limit.limit)

    def run(planned: PlannedFile) -> None:
        try:
            outcome = copier.copy(planned)
        finally:
            limit.release()
        settle([outcome])

    def run_batch(batch: localcopy.Batch) -> None:
        copied = localcopy.copy_batch(batch, verify=copier.verify)
        settle(copied.done)
        for planned in copied.fallback:  # rare: the general path retries and reports
            settle([copier.copy(planned)])

    def run_large(planned: PlannedFile) -> None:
        destination = copier.backend_for(planned.target)
        outcome = localcopy.copy_large(copier.source, destination,  # type: ignore[arg-type]
                                       planned, verify=copier.verify)
        settle([outcome or copier.copy(planned)])

    large = [p for p in singles
             if localcopy.fast_pair(copier.source, copier.backend_for(p.target))]
    local_ids = {id(p) for p in large}
    remote = [p for p in singles if id(p) not in local_ids]
    local_work: list[Callable[[], None]] = [partial(run_batch, b) for b in batches]
    local_work += [partial(run_large, p) for p in large]
    with ThreadPoolExecutor(max_workers=limit.maximum, thread_name_prefix="copy") as pool:
        futures: list[Future[None]] = []
        for planned in remote:
            limit.acquire()
            futures.append(pool.submit(run, planned))
        # Local copies are bound by the CPU and the disks, not by a service's latency:
        # more threads than this process's share of the CPUs only queue for the
        # interpreter lock, and more concurrent writers only interleave on the disk.
        threads = min(local_threads(), limit.maximum)
        if threads <= 1:
            for work in local_work:
                work()
        else:
            with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="local") as local:
                for future in [local.submit(work) for work in local_work]:
                    future.result()
        for future in futures:
            future.result()


def local_threads() -> int:
    """Threads for CPU-bound local copying: this process's share of the CPUs (one when
    a process pool already runs a worker per CPU)."""
    from mobilise.workers.executors import cpu_share

    return cpu_share()


def _record_many(result: SyncResult, journal: Journal | None,
                 outcomes: list[FileResult]) -> None:
    result.files += outcomes
    if journal is not None:
        journal.append_many([to_record(o) for o in outcomes])


def to_record(outcome: FileResult) -> Record:
    modified = outcome.modified
    return Record(path=outcome.path, outcome=outcome.outcome.value, dest=outcome.dest_path,
                  target=outcome.target, size=outcome.size,
                  modified=modified.isoformat() if modified else None, hash=outcome.hash,
                  reason=outcome.reason, attempts=outcome.attempts,
                  throttled=outcome.throttled or None)
