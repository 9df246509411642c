"""Live progress of a round, file by file, wherever its shards run.

Every shard writes each file's outcome to its person's journal as it goes (one write per
batch of small files). A ``JournalFollower`` reads what was appended since it last looked,
a ``ProgressMeter`` turns those records into files, bytes, files/s, MB/s, an ETA and
throttling events, and a ``RoundWatcher`` thread does both every second and hands the
figures to the one progress reporter (the CLI's bar, the web's ``Job`` row). Journals are
shared by the in-process pool, the process pool and Celery workers that share the data
folder; finished shards' own totals top up anything a journal did not show (a Celery
worker on a machine without the shared folder).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from mobilise.core.jobs import job_row, recent_jobs
from mobilise.core.progress import Progress

log = logging.getLogger(__name__)

# Points of the throughput series kept for the live chart: two minutes at one a second,
# then thinned so a long round still fits.
SERIES_POINTS = 120
MB = 1_000_000


class ProgressMeter:
    """Counts files as they are settled and says how fast the round goes. Thread-safe."""

    def __init__(self, total_files: int | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.total_files = total_files
        self.clock = clock
        self.started = clock()
        self.files = 0
        self.bytes = 0
        self.outcomes: Counter[str] = Counter()
        self.throttle_events = 0
        # What was counted for each person (outcomes, and "bytes" and "throttled"), so a
        # shard's own totals can top up only what the journals did not show.
        self.by_person: dict[str, Counter[str]] = {}
        self.series: list[list[float]] = []  # [seconds since start, files/s, MB/s]
        self._last_sample = (self.started, 0, 0)
        self._lock = threading.Lock()

    def add(self, person: str, outcome: str, size: int = 0, throttled: int = 0) -> None:
        """One file settled (copied, skipped, failed, ...)."""
        copied = size if outcome == "copied" else 0
        with self._lock:
            self._count(person, Counter({outcome: 1, "bytes": copied, "throttled": throttled}))

    def _count(self, person: str, counts: Counter[str]) -> None:
        seen = self.by_person.setdefault(person, Counter())
        seen.update(counts)
        for key, value in counts.items():
            if key == "bytes":
                self.bytes += value
            elif key == "throttled":
                self.throttle_events += value
            else:
                self.files += value
                self.outcomes[key] += value

    def settle(self, person: str, totals: Counter[str]) -> None:
        """Everything ``person``'s finished shards reported (outcomes, "bytes",
        "throttled"): count whatever the journals missed."""
        with self._lock:
            seen = self.by_person.setdefault(person, Counter())
            missing = Counter({key: value - seen[key] for key, value in totals.items()
                               if value > seen[key]})
            if missing:
                self._count(person, missing)

    def sample(self) -> None:
        """Add a point to the throughput series: the rates since the previous point."""
        with self._lock:
            now = self.clock()
            then, files, size = self._last_sample
            if now - then < 0.5:
                return
            self.series.append([round(now - self.started, 1),
                                round((self.files - files) / (now - then), 1),
                                round((self.bytes - size) / (now - then) / MB, 2)])
            if len(self.series) > SERIES_POINTS:
                self.series = self.series[::2]
            self._last_sample = (now, self.files, self.bytes)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            elapsed = max(self.clock() - self.started, 1e-6)
            files_per_s = self.files / elapsed
            eta = None
            if self.total_files is not None and files_per_s > 0:
                eta = round(max(self.total_files - self.files, 0) / files_per_s)
            return {
                "files": self.files, "total_files": self.total_files, "bytes": self.bytes,
                "files_per_s": round(files_per_s, 1),
                "mb_per_s": round(self.bytes / elapsed / MB, 2),
                "eta_s": eta, "throttle_events": self.throttle_events,
                "copied": self.outcomes["copied"], "failed": self.outcomes["failed"],
                "elapsed_s": round(elapsed, 1), "series": [list(p) for p in self.series],
            }


class JournalFollower:
    """Reads the records appended to some journals since it last looked, as ``tail -f``
    would: from where each journal ended when following began, complete lines only (a
    line still being written is read next time)."""

    def __init__(self, journals: dict[str, Path]) -> None:
        self.journals = journals  # person → journal of this round
        self.offsets = {person: _size(path) for person, path in journals.items()}
        self._rests: dict[str, bytes] = {}

    def poll(self) -> Iterable[tuple[str, dict[str, Any]]]:
        for person, path in self.journals.items():
            offset = self.offsets[person]
            if _size(path) <= offset:
                continue
            with open(path, "rb") as stream:
                stream.seek(offset)
                data = stream.read()
            self.offsets[person] = offset + len(data)
            data = self._rests.pop(person, b"") + data
            complete, _, rest = data.rpartition(b"\n")
            if rest:
                self._rests[person] = rest
            for line in complete.split(b"\n"):
                record = _parse(line)
                if record is not None:
                    yield person, record


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _parse(line: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(line.decode("utf-8", "surrogateescape"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None  # a torn record after a crash
    return data if isinstance(data, dict) and "outcome" in data else None


class RoundWatcher:
    """Follows the round's journals every ``interval`` seconds on a thread of its own and
    reports to ``progress``; ``refresh`` does the same at once (when a shard finishes).
    The reporter is only ever called under one lock, so a ``JobProgress`` session is
    never used by two threads at once."""

    def __init__(self, follower: JournalFollower, meter: ProgressMeter, progress: Progress,
                 interval: float = 1.0) -> None:
        self.follower = follower
        self.meter = meter
        self.progress = progress
        self.interval = interval
        self.lock = threading.Lock()
        self._reported = 0
        self._shard_totals: dict[str, Counter[str]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="round-progress", daemon=True)

    def __enter__(self) -> RoundWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.refresh()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.refresh()

    def refresh(self) -> None:
        """Read what the journals gained and report it. Progress is an account of the
        work, not the work: a failure to read or report it is logged, never raised into
        the round."""
        try:
            with self.lock:
                for person, record in self.follower.poll():
                    self.meter.add(person, str(record["outcome"]),
                                   int(record.get("size") or 0),
                                   int(record.get("throttled") or 0))
                self.meter.sample()
                self._report()
        except Exception:  # noqa: BLE001 - see the docstring
            log.exception("live progress of the round could not be updated")

    def settle(self, person: str, value: dict[str, Any]) -> None:
        """A shard of ``person`` finished with these totals (a ``sync_shard`` result)."""
        with self.lock:
            totals = self._shard_totals.setdefault(person, Counter())
            totals.update(value.get("outcomes", {}))
            totals["bytes"] += int(value.get("bytes_copied", 0))
            totals["throttled"] += int(value.get("throttle_events", 0))
        self.refresh()  # the journal first: it has the files in order
        try:
            with self.lock:
                self.meter.settle(person, self._shard_totals[person])
                self._report()
        except Exception:  # noqa: BLE001 - as in refresh
            log.exception("live progress of the round could not be updated")

    def _report(self) -> None:
        snapshot = self.meter.snapshot()
        advance = snapshot["files"] - self._reported
        self._reported = snapshot["files"]
        self.progress.advance(max(advance, 0), **snapshot)


class BarStats:
    """Passes a terminal bar only the figures that fit on its line: the web's ``Job``
    row gets everything (the series for the chart, which wave and round)."""

    SHOWN = ("files_per_s", "mb_per_s", "throttle_events", "failed")

    def __init__(self, bar: Progress) -> None:
        self.bar = bar

    def start(self, total: int | None, description: str) -> None:
        self.bar.start(total, description)

    def advance(self, n: int = 1, **stats: Any) -> None:
        self.bar.advance(n, **{k: stats[k] for k in self.SHOWN if k in stats})

    def finish(self, message: str = "") -> None:
        self.bar.finish(message)


def live_round(session: Session, wave_id: int) -> dict[str, Any] | None:
    """The latest round's live status for a wave (its ``Job`` row, kept current by the
    ``RoundWatcher`` of whichever process runs the round), or None before any."""
    for job in recent_jobs(session, kind=JOB_KIND, limit=100):
        if (job.stats or {}).get("wave_id") == wave_id:
            return job_row(job)
    return None


# The kind of ``Job`` row a round reports to.
JOB_KIND = "migration"
