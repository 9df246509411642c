"""Live progress of a round, file by file, from the journals its shards write."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from mobilise.core.progress import Job, JobProgress
from mobilise.core.settings import Settings
from mobilise.migration.journal import Journal, Record
from mobilise.migration.progress import (
    JOB_KIND,
    JournalFollower,
    ProgressMeter,
    RoundWatcher,
    live_round,
)
from mobilise.migration.rounds import run_round
from mobilise.migration.waves import WaveSelection, create_wave
from mobilise.workers import InProcessExecutor
from mobilise.workers.executors import TaskResult
from tests.factories import ADMIN, load_people
from tests.migration.conftest import make_tree


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Recorder:
    """A Progress that keeps every call."""

    def __init__(self) -> None:
        self.total: int | None = None
        self.description = ""
        self.done = 0
        self.reports: list[dict[str, Any]] = []
        self.finished = False

    def start(self, total: int | None, description: str) -> None:
        self.total, self.description = total, description

    def advance(self, n: int = 1, **stats: Any) -> None:
        self.done += n
        self.reports.append({"done": self.done, **stats})

    def finish(self, message: str = "") -> None:
        self.finished = True


def test_meter_gives_rates_eta_throttling_and_a_series() -> None:
    clock = FakeClock()
    meter = ProgressMeter(total_files=100, clock=clock)
    for _ in range(10):
        meter.add("p1", "copied", 2_000_000)
    meter.add("p1", "skipped", 5)
    meter.add("p1", "failed", 7, throttled=3)
    clock.now += 4.0
    meter.sample()
    figures = meter.snapshot()
    assert figures["files"] == 12 and figures["bytes"] == 20_000_000
    assert figures["files_per_s"] == 3.0 and figures["mb_per_s"] == 5.0
    assert figures["eta_s"] == round(88 / 3.0)
    assert figures["throttle_events"] == 3 and figures["failed"] == 1
    assert figures["series"] == [[4.0, 3.0, 5.0]]
    clock.now += 0.1
    meter.sample()  # too soon for another point
    assert len(meter.snapshot()["series"]) == 1


def test_a_long_series_is_thinned_not_grown() -> None:
    clock = FakeClock()
    meter = ProgressMeter(clock=clock)
    for _ in range(500):
        clock.now += 1
        meter.add("p", "copied", 1)
        meter.sample()
    assert len(meter.snapshot()["series"]) <= 120


def test_shard_totals_top_up_only_what_the_journals_missed() -> None:
    meter = ProgressMeter(total_files=10)
    meter.add("p1", "copied", 100)
    meter.add("p1", "copied", 100)
    meter.settle("p1", Counter({"copied": 2, "bytes": 200}))
    assert meter.snapshot()["files"] == 2  # the journal had both
    meter.settle("p1", Counter({"copied": 3, "skipped": 4, "bytes": 350, "throttled": 2}))
    figures = meter.snapshot()
    assert figures["files"] == 7 and figures["bytes"] == 350
    assert figures["copied"] == 3 and figures["throttle_events"] == 2


def test_follower_reads_only_what_was_appended_and_waits_for_a_whole_line(
        tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    with Journal(path) as journal:
        journal.append(Record(path="before", outcome="copied"))
    follower = JournalFollower({"p1": path, "p2": tmp_path / "not-yet.jsonl"})
    assert list(follower.poll()) == []
    with Journal(path) as journal:
        journal.append_many([Record(path="a", outcome="copied", size=3),
                             Record(path="b", outcome="skipped")])
    with open(path, "ab") as raw:
        raw.write(b'{"path":"c","outcome":"fai')  # being written
    assert [r["path"] for _, r in follower.poll()] == ["a", "b"]
    with open(path, "ab") as raw:
        raw.write(b'led"}\n')
    assert [(p, r["path"], r["outcome"]) for p, r in follower.poll()] == [("p1", "c", "failed")]
    assert list(follower.poll()) == []


def test_watcher_reports_files_as_journals_grow_and_when_shards_finish(
        tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    progress = Recorder()
    watcher = RoundWatcher(JournalFollower({"p1": path}), ProgressMeter(5), progress,
                           interval=3600)
    with Journal(path) as journal, watcher:
        journal.append_many([Record(path=f"f{i}", outcome="copied", size=10)
                             for i in range(3)])
        watcher.refresh()
        assert progress.done == 3 and progress.reports[-1]["bytes"] == 30
        # The shard says 5 files: two never reached this machine's journal.
        watcher.settle("p1", {"outcomes": {"copied": 5}, "bytes_copied": 50,
                              "throttle_events": 1})
    assert progress.done == 5
    last = progress.reports[-1]
    assert (last["files"], last["bytes"], last["throttle_events"]) == (5, 50, 1)


@pytest.fixture
def estate(settings: Settings, session: Session, tmp_path: Path) -> Settings:
    load_people(session, tmp_path, count=2)
    for n in range(2):
        make_tree(Path(settings.home_root) / f"asmith{n}", 30, seed=n)
    return settings.model_copy(update={"migration_destination": "local",
                                       "migration_destination_root": tmp_path / "onedrive",
                                       "archive_root": tmp_path / "archive",
                                       "migration_shard_files": 5})


class OneByOne(InProcessExecutor):
    """Runs shards one at a time and notes the progress reported before each."""

    def __init__(self, settings: Settings, progress: Recorder) -> None:
        super().__init__(settings, workers=1)
        self.progress = progress
        self.seen_before_shard: list[int] = []

    def run_all(self, task_name: str, payloads: Any, on_result: Any = None) -> list[TaskResult]:
        results = []
        for payload in payloads:
            self.seen_before_shard.append(self.progress.done)
            results += super().run_all(task_name, [payload], on_result)
        return results


def test_a_round_reports_files_during_the_round_not_only_at_the_end(
        estate: Settings, session: Session) -> None:
    wave = create_wave(session, ADMIN, "W1", WaveSelection(people=["100000", "100001"]))
    session.commit()
    progress = Recorder()
    executor = OneByOne(estate, progress)
    report = run_round(session, ADMIN, estate, wave, executor, progress=progress)
    assert report.round.status == "done"
    assert progress.total == 60 and progress.done == 60
    assert "round 1 (pre-seed)" in progress.description
    # Each shard started after the files of those before it had been reported.
    assert len(executor.seen_before_shard) > 4
    assert executor.seen_before_shard == sorted(executor.seen_before_shard)
    assert 0 < executor.seen_before_shard[len(executor.seen_before_shard) // 2] < 60
    last = progress.reports[-1]
    assert last["files"] == 60 and last["copied"] == 60 and last["total_files"] == 60
    assert any(r.get("shards_done") == len(executor.seen_before_shard)
               for r in progress.reports)
    assert progress.reports[0]["wave_id"] == wave.id and progress.finished


def test_a_rounds_job_row_carries_its_live_figures(estate: Settings, session: Session,
                                                   settings: Settings) -> None:
    from mobilise.core.db import session_factory

    wave = create_wave(session, ADMIN, "W1", WaveSelection(people=["100000", "100001"]))
    session.commit()
    assert live_round(session, wave.id) is None
    job_session = session_factory(settings)()
    try:
        run_round(session, ADMIN, estate, wave, InProcessExecutor(estate, workers=2),
                  progress=JobProgress(job_session, JOB_KIND))
    finally:
        job_session.close()
    session.expire_all()
    live = live_round(session, wave.id)
    assert live is not None and live["status"] == "done"
    assert live["done"] == live["total"] == 60
    stats = live["stats"]
    assert stats["files"] == 60 and stats["copied"] == 60 and stats["round"] == 1
    assert stats["bytes"] > 0 and "series" in stats and "files_per_s" in stats
    assert session.get(Job, live["id"]) is not None


class Broken(Recorder):
    def advance(self, n: int = 1, **stats: Any) -> None:
        if "files" in stats:
            raise RuntimeError("database is locked")
        super().advance(n, **stats)


def test_progress_that_cannot_be_reported_never_fails_the_round(
        estate: Settings, session: Session) -> None:
    wave = create_wave(session, ADMIN, "W1", WaveSelection(people=["100000"]))
    session.commit()
    report = run_round(session, ADMIN, estate, wave, InProcessExecutor(estate),
                       progress=Broken())
    assert report.round.status == "done" and report.people["100000"]["copied"] == 30
