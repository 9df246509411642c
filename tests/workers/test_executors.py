from __future__ import annotations

from pathlib import Path

import pytest

from mobilise.core.errors import InvalidInput
from mobilise.core.settings import Settings
from mobilise.migration.sync import plan_shards
from mobilise.storage.local import LocalBackend
from mobilise.workers import open_executor
from tests.migration.conftest import make_tree, tree_snapshot


@pytest.mark.parametrize("kind", ["inprocess", "processes"])
def test_executors_run_every_shard_and_report_errors_per_payload(kind: str,
                                                                 tmp_path: Path) -> None:
    source, dest = tmp_path / "src", tmp_path / "dst"
    source.mkdir()
    dest.mkdir()
    make_tree(source, 80, seed=4)
    settings = Settings(data_dir=tmp_path / "data")
    payloads = [{"person": "p", "round": "r", "under": shard,
                 "source": {"kind": "local", "root": str(source)},
                 "destination": {"kind": "local", "root": str(dest)}}
                for shard in plan_shards(LocalBackend(source), 20)]
    payloads.append({**payloads[0], "source": {"kind": "nosuch"}})
    heard = []
    results = open_executor(kind, settings, workers=2).run_all(
        "migration.sync_shard", payloads, on_result=heard.append)
    assert len(heard) == len(payloads)
    assert [r.ok for r in results] == [True] * (len(payloads) - 1) + [False]
    assert "unknown storage backend" in (results[-1].error or "")
    assert sum(r.value["outcomes"]["copied"] for r in results if r.value) == 80
    assert tree_snapshot(dest) == tree_snapshot(source)


def test_unknown_executor_is_refused() -> None:
    with pytest.raises(InvalidInput):
        open_executor("threads", Settings())


def _share(_: object) -> int:
    from mobilise.workers.executors import cpu_share

    return cpu_share()


def test_a_process_pool_worker_sizes_its_threads_to_its_share_of_the_cpus(
        tmp_path: Path) -> None:
    import os

    from mobilise.workers.executors import ProcessExecutor, cpu_share

    cpus = os.cpu_count() or 1
    assert cpu_share() == cpus  # this process alone
    pool = ProcessExecutor(Settings(data_dir=tmp_path), workers=cpus)._pool()
    with pool:
        assert set(pool.map(_share, range(4))) == {1}
