"""Copy benchmarks for the migration engine, each against its anchor in the same run.

    PYTHONPATH=src python bench/bench_copy.py            # everything
    PYTHONPATH=src python bench/bench_copy.py --only small --small 100000

small: 100,000 small files local→local, ``sync_person`` (verified) against
       ``rclone copy --transfers 8 --checkers 8`` and ``cp -a``.
large: 20 × 256 MiB local→local: verified against rclone (which checks MD5), unverified
       against ``cp -a``.
emulator: local → the Graph emulator over HTTPS with 20 ms injected on every request:
       files/s by concurrency, then one against two Celery workers.
Caches are warm for every contender alike (the source is read once before timing).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import numpy as np

from mobilise.migration.files import Outcome
from mobilise.migration.sync import SyncOptions, sync_person
from mobilise.storage.local import LocalBackend

MIB = 1024 * 1024


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def make_small_tree(root: Path, count: int) -> int:
    rng = np.random.default_rng(1)
    sizes = rng.integers(200, 4096, size=count)
    blob = rng.bytes(4096)
    total = 0
    for i in range(count):
        folder = root / f"folder-{i % 200:03d}" / f"sub-{i % 7}"
        if i < 1400:
            folder.mkdir(parents=True, exist_ok=True)
        size = int(sizes[i])
        (folder / f"file-{i:06d}.txt").write_bytes(blob[:size])
        total += size
    return total


def make_large_files(root: Path, count: int, size_mib: int) -> int:
    rng = np.random.default_rng(2)
    block = bytearray(rng.bytes(size_mib * MIB))
    for i in range(count):
        block[:8] = i.to_bytes(8, "little")  # every file differs
        (root / f"large-{i:02d}.bin").write_bytes(block)
    return count * size_mib * MIB


def warm(root: Path) -> None:
    subprocess.run(["cat"] + [str(p) for p in root.rglob("*") if p.is_file()][:1],
                   stdout=subprocess.DEVNULL, check=False)
    subprocess.run(f"find {root} -type f -print0 | xargs -0 cat > /dev/null", shell=True,
                   check=True)


def mobilise_copy(source: Path, dest: Path, *, verify: bool = True,
                  concurrency: int = 8) -> float:
    dest.mkdir()
    options = SyncOptions(concurrency=concurrency, max_concurrency=concurrency, verify=verify,
                          stale_partial_after=timedelta(days=1))
    holder: list[object] = []
    seconds = timed(lambda: holder.append(sync_person(
        LocalBackend(source, durable=False), LocalBackend(dest, durable=False),
        options=options)))
    result = holder[0]
    assert result.count(Outcome.FAILED) == 0  # type: ignore[attr-defined]
    return seconds


def mobilise_copy_processes(source: Path, dest: Path, work: Path) -> float:
    """The same sync split into shards run by one process per CPU (ProcessExecutor)."""
    from mobilise.core.settings import Settings
    from mobilise.migration.sync import plan_shards
    from mobilise.workers import ProcessExecutor

    dest.mkdir()
    cpus = os.cpu_count() or 1

    def run() -> None:
        shards = plan_shards(LocalBackend(source), max_files=5_000)
        payloads = [{"person": "bench", "round": "r", "under": shard, "concurrency": 4,
                     "source": {"kind": "local", "root": str(source), "durable": False},
                     "destination": {"kind": "local", "root": str(dest), "durable": False}}
                    for shard in shards]
        results = ProcessExecutor(Settings(data_dir=work / "data"), workers=cpus).run_all(
            "migration.sync_shard", payloads)
        assert all(r.ok and r.value and r.value["complete"] for r in results)

    return timed(run)


def rclone_copy(source: Path, dest: Path) -> float:
    return timed(lambda: subprocess.run(
        ["rclone", "copy", "--transfers", "8", "--checkers", "8", "--local-no-check-updated",
         str(source), str(dest)], check=True))


def cp_copy(source: Path, dest: Path) -> float:
    return timed(lambda: subprocess.run(["cp", "-a", str(source), str(dest)], check=True))


def fresh(path: Path) -> Path:
    """An empty destination, with the previous contender's writes settled first: its
    dirty pages written back, and the blocks its deleted copy held discarded (the disk is
    mounted with ``discard``). Otherwise whoever runs after a slow writer pays for its
    writeback and discards: measured here, ``cp -a`` after rclone ran at a third of its
    speed after mobilise."""
    if path.exists():
        shutil.rmtree(path)
    os.sync()
    return path


def bench_small(work: Path, count: int) -> list[str]:
    source = work / "small-src"
    source.mkdir()
    make_small_tree(source, count)
    warm(source)
    rows = []
    ours = count / mobilise_copy(source, fresh(work / "dst"))
    ours_processes = count / mobilise_copy_processes(source, fresh(work / "dst"), work)
    rclone = count / rclone_copy(source, fresh(work / "dst"))
    cp = count / cp_copy(source, fresh(work / "dst"))
    fresh(work / "dst")
    rows.append(f"small files ({count:,}): mobilise verified, one process "
                f"{ours:,.0f} files/s (ratio to rclone {ours / rclone:.2f}); one process "
                f"per CPU {ours_processes:,.0f} files/s (ratio {ours_processes / rclone:.2f});"
                f" rclone copy --transfers 8 --checkers 8 {rclone:,.0f} files/s; "
                f"cp -a {cp:,.0f} files/s (ratio {ours_processes / cp:.2f})")
    shutil.rmtree(source)
    return rows


def bench_large(work: Path, count: int, size_mib: int) -> list[str]:
    source = work / "large-src"
    source.mkdir()
    total = make_large_files(source, count, size_mib)
    mb = total / 1e6

    def ready() -> Path:
        # Each contender's copies push the source out of a shared machine's page cache,
        # so it is read again before every contender, not only the first.
        destination = fresh(work / "dst")
        warm(source)
        return destination

    ours_verified = mb / mobilise_copy(source, ready())
    rclone = mb / rclone_copy(source, ready())
    # The unverified pair runs in the order ours, cp, cp, ours (ABBA): whoever runs first
    # or after the other's deleted copy is not favoured; each side is its mean rate.
    first = mobilise_copy(source, ready(), verify=False)
    cp_seconds = cp_copy(source, ready()) + cp_copy(source, ready())
    ours_plain = 2 * mb / (first + mobilise_copy(source, ready(), verify=False))
    cp = 2 * mb / cp_seconds
    fresh(work / "dst")
    shutil.rmtree(source)
    return [f"large files ({count} x {size_mib} MiB): mobilise verified {ours_verified:,.0f} "
            f"MB/s vs rclone (MD5-verified) {rclone:,.0f} MB/s, ratio "
            f"{ours_verified / rclone:.2f}; mobilise unverified {ours_plain:,.0f} MB/s vs "
            f"cp -a {cp:,.0f} MB/s, ratio {ours_plain / cp:.2f}"]


def bench_emulator(work: Path, files: int, latency_ms: float) -> list[str]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.storage.onedrive_fixture import make_onedrive_backend, set_faults, start_emulator

    source = work / "emu-src"
    source.mkdir()
    rng = np.random.default_rng(3)
    for i in range(files):
        folder = source / f"part-{i % 4}"
        folder.mkdir(exist_ok=True)
        (folder / f"doc-{i:04d}.docx").write_bytes(rng.bytes(32 * 1024))
    emulator = start_emulator(work / "emulator")
    rows = []
    try:
        set_faults(emulator, latency_ms=latency_ms, latency_rate=1.0)
        curve = []
        for concurrency in (1, 2, 4, 8, 16, 32):
            onedrive = make_onedrive_backend(emulator, work / "journal")
            onedrive.stat("")
            options = SyncOptions(concurrency=concurrency, max_concurrency=concurrency)
            seconds = timed(lambda od=onedrive, o=options: sync_person(  # type: ignore[misc]
                LocalBackend(source), od, options=o))
            curve.append(f"{concurrency}: {files / seconds:,.1f}")
        rows.append(f"into the emulator, {files} x 32 KiB, {latency_ms:.0f} ms a request, "
                    f"files/s by concurrency: " + ", ".join(curve))
        rows += bench_celery(work, emulator, source, files)
    finally:
        emulator.stop()
        shutil.rmtree(source)
    return rows


def bench_celery(work: Path, emulator: object, source: Path, files: int) -> list[str]:
    """One Celery worker, then two, each syncing shards (one top-level folder each) two
    files at a time: what a second worker machine adds when each is limited."""
    from tests.storage.onedrive_fixture import emulator_settings, fresh_upn, provision

    from mobilise.workers import CeleryExecutor

    port = 16379 + os.getpid() % 1000
    redis = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                              "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL)
    time.sleep(0.5)
    url = f"redis://127.0.0.1:{port}/0"
    settings = emulator_settings(emulator, broker_url=url, data_dir=work / "data",  # type: ignore[arg-type]
                                 graph_resource_units_per_minute=600_000,
                                 migration_concurrency=2)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    env.update({f"MOBILISE_{k.upper()}": str(v.get_secret_value() if hasattr(
        v, "get_secret_value") else v) for k, v in settings.model_dump().items()
        if v is not None and k.startswith(("graph_", "broker_", "data_dir", "migration_"))})
    rows = []
    workers: list[subprocess.Popen[bytes]] = []
    try:
        for count in (1, 2):
            while len(workers) < count:
                workers.append(subprocess.Popen(
                    [sys.executable, "-m", "mobilise.cli.main", "worker", "--pool", "solo"],
                    env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                    start_new_session=True))
            time.sleep(3)
            upn = fresh_upn("bench")
            provision(emulator, upn)  # type: ignore[arg-type]
            payloads = [{"person": upn, "round": f"bench-{count}", "under": [f"part-{i}"],
                         "source": {"kind": "local", "root": str(source)},
                         "destination": {"kind": "onedrive", "settings": True, "upn": upn}}
                        for i in range(4)]
            executor = CeleryExecutor(settings, timeout=600)
            seconds = timed(lambda e=executor, p=payloads: e.run_all(  # type: ignore[misc]
                "migration.sync_shard", p))
            rows.append(f"celery workers {count}: {files / seconds:,.1f} files/s")
    finally:
        for worker in workers:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait()
        redis.terminate()
        redis.wait()
    return ["; ".join(rows)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", choices=["small", "large", "emulator"], action="append")
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--large", type=int, default=20)
    parser.add_argument("--large-mib", type=int, default=256)
    parser.add_argument("--emulator-files", type=int, default=400)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--work", type=Path, default=None, help="folder for the large files")
    parser.add_argument("--small-work", type=Path, default=None,
                        help="folder for the small files (a tmpfs such as /dev/shm measures "
                        "the copier rather than the disk's metadata speed)")
    args = parser.parse_args()
    if shutil.which("rclone") is None:
        sys.exit("rclone is missing: apt-get install rclone")
    only = set(args.only or ["small", "large", "emulator"])
    with tempfile.TemporaryDirectory(dir=args.work, prefix="bench-copy-") as tmp:
        work = Path(tmp)
        print(f"machine: {os.cpu_count()} CPUs; work in {work}", flush=True)
        if "small" in only:
            with tempfile.TemporaryDirectory(dir=args.small_work, prefix="bench-copy-") as small:
                for line in bench_small(Path(small), args.small):
                    print(line, flush=True)
        if "large" in only:
            for line in bench_large(work, args.large, args.large_mib):
                print(line, flush=True)
        if "emulator" in only:
            for line in bench_emulator(work, args.emulator_files, args.latency_ms):
                print(line, flush=True)


if __name__ == "__main__":
    main()
