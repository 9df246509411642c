"""A Celery worker killed with SIGKILL in the middle of a migration task: after the task
is delivered again to a new worker, nothing is missing or duplicated."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from mobilise.core.settings import Settings
from mobilise.migration.journal import journal_path
from mobilise.migration.sync import plan_shards
from mobilise.storage.local import LocalBackend
from mobilise.workers import CeleryExecutor, TaskResult
from tests.migration.conftest import GuardedTree, make_tree, tree_snapshot

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """MOBILISE_TEST_REDIS_URL (script/services.sh start_redis), else a redis-server of
    our own on a free loopback port. A missing redis-server fails, never skips."""
    if url := os.environ.get("MOBILISE_TEST_REDIS_URL"):
        yield url
        return
    port = free_port()
    folder = tmp_path_factory.mktemp("redis")
    server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                               "--save", "", "--appendonly", "no", "--dir", str(folder)],
                              stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        import socket

        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait()


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "mobilise.cli.main", "worker", "--pool", "solo"],
            env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
            start_new_session=True)


@dataclass
class Migration:
    """A home drive being migrated in shards through Celery, by a dispatcher thread."""

    source: Path
    destination: Path
    guard: GuardedTree
    data_dir: Path
    env: dict[str, str]
    settings: Settings
    payloads: list[dict[str, Any]]
    results: list[TaskResult] = field(default_factory=list)
    dispatcher: threading.Thread | None = None

    def dispatch(self, timeout: float) -> None:
        self.dispatcher = threading.Thread(
            target=lambda: self.results.extend(CeleryExecutor(
                self.settings, timeout=timeout).run_all("migration.sync_shard", self.payloads)))
        self.dispatcher.start()

    def finish_with(self, worker: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
        """Let ``worker`` take the rest, then check nothing is missing or duplicated."""
        assert self.dispatcher is not None
        try:
            self.dispatcher.join(timeout=timeout)
            assert not self.dispatcher.is_alive(), log.read_text()
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=30)
        assert all(r.ok for r in self.results), [r.error for r in self.results]
        assert all(r.value and r.value["complete"] for r in self.results)
        # nothing missing, nothing extra
        assert tree_snapshot(self.destination) == self.guard.snapshot
        assert tree_snapshot(self.source) == self.guard.snapshot


def migration(tmp_path: Path, redis_url: str, *, files: int, seed: int, max_size: int,
              shard_files: int, person: str, visibility: int,
              env: dict[str, str] | None = None) -> Migration:
    source = tmp_path / "source"
    source.mkdir()
    make_tree(source, files, seed=seed, max_size=max_size)
    guard = GuardedTree(source, tree_snapshot(source))
    destination = tmp_path / "dest"
    destination.mkdir()
    data_dir = tmp_path / "data"
    worker_env = {**os.environ, "PYTHONPATH": str(ROOT / "src"),
                  "MOBILISE_BROKER_URL": redis_url, "MOBILISE_DATA_DIR": str(data_dir),
                  "MOBILISE_WORKER_VISIBILITY_TIMEOUT": str(visibility), **(env or {})}
    settings = Settings(broker_url=redis_url, data_dir=data_dir,
                        worker_visibility_timeout=visibility)
    shards = plan_shards(LocalBackend(source), max_files=shard_files)
    payloads = [{"person": person, "round": "pre-seed", "under": shard,
                 "source": {"kind": "local", "root": str(source), "durable": False},
                 "destination": {"kind": "local", "root": str(destination)},
                 "stale_partial_seconds": 0} for shard in shards]
    return Migration(source, destination, guard, data_dir, worker_env, settings, payloads)


def test_worker_killed_mid_task_redelivers_and_nothing_is_missing_or_duplicated(
        tmp_path: Path, redis_url: str) -> None:
    run = migration(tmp_path, redis_url, files=3000, seed=3, max_size=40_000,
                    shard_files=1200, person="p1", visibility=3,
                    env={"MOBILISE_MIGRATION_CONCURRENCY": "2"})
    run.dispatch(timeout=240)
    log = tmp_path / "worker.log"
    first = start_worker(run.env, log)
    journal = journal_path(run.data_dir, "p1", "pre-seed")
    deadline = time.monotonic() + 60
    while (not journal.exists() or journal.read_bytes().count(b"\n") < 400) \
            and time.monotonic() < deadline:
        time.sleep(0.005)
    os.killpg(first.pid, signal.SIGKILL)  # the worker and anything it started
    first.wait()
    copied_before_kill = journal.read_bytes().count(b"\n")
    assert 400 <= copied_before_kill < 3000, "the kill did not land mid-migration"
    run.finish_with(start_worker(run.env, log), log, timeout=240)


def test_a_message_lost_between_queue_and_worker_is_sent_again(
        tmp_path: Path, redis_url: str) -> None:
    """Kombu's Redis transport pops a message before recording it unacknowledged; a worker
    killed in between loses it for good. The dispatcher sends such a task again."""
    import redis

    run = migration(tmp_path, redis_url, files=400, seed=5, max_size=4_000, shard_files=100,
                    person="p2", visibility=2)
    assert len(run.payloads) >= 3
    broker = redis.Redis.from_url(redis_url)
    broker.delete("celery")
    run.dispatch(timeout=120)
    deadline = time.monotonic() + 30
    while broker.llen("celery") < len(run.payloads) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert broker.rpop("celery") is not None  # the next message a worker would take: lost
    log = tmp_path / "worker.log"
    run.finish_with(start_worker(run.env, log), log, timeout=120)
