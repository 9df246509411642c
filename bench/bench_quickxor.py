"""QuickXorHash throughput against its anchors, over the same files in the same run.

    python bench/bench_quickxor.py [--gib 2] [--rounds 3]

Generates a set of random files (a few large, many medium, some small: a home drive's
mix), reads them once so every contender hashes from the page cache, then times, best of
``--rounds``:

* ``mobilise``: our QuickXorHash, one thread, through ``mobilise.storage.checksums``;
* ``sha1``: hashlib.sha1 over the same read loop (a C hash, as a yardstick);
* ``rclone``: ``rclone hashsum quickxor`` over the folder (its default 8 checkers, so it
  may use every core), when rclone is installed (Debian package ``rclone``).

rclone's digests are compared with ours, so the race is only counted if both agree.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

# Measure this checkout's code, whether or not the package is installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from mobilise.storage.checksums import HashType, hash_file  # noqa: E402
from mobilise.storage.streams import read_chunks  # noqa: E402

MiB = 1024 * 1024
GB = 1e9


def make_files(folder: Path, total: int, seed: int = 160) -> list[Path]:
    """A mix by bytes: half in 256 MiB files, a third in 8 MiB files, the rest in
    64 KiB..1 MiB files, with odd sizes so no file is a multiple of 160."""
    rng = np.random.default_rng(seed)
    sizes: list[int] = []
    for share, low, high in ((0.5, 256 * MiB, 256 * MiB + 4096), (1 / 3, 8 * MiB, 8 * MiB + 999)):
        budget = int(total * share)
        while budget > 0:
            size = min(int(rng.integers(low, high)), budget)
            sizes.append(size)
            budget -= size
    rest = total - sum(sizes)
    while rest > 0:
        size = min(int(rng.integers(64 * 1024, MiB)), rest)
        sizes.append(size)
        rest -= size
    paths = []
    for index, size in enumerate(sizes):
        path = folder / f"file-{index:05d}.bin"
        path.write_bytes(rng.bytes(size))
        paths.append(path)
    return paths


def warm(paths: list[Path]) -> None:
    for path in paths:
        with open(path, "rb", buffering=0) as stream:
            for _ in read_chunks(stream):
                pass


def time_best(rounds: int, run: Callable[[], object]) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(rounds):
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    return best, result


def ours(paths: list[Path]) -> dict[str, str]:
    return {path.name: hash_file(path, HashType.QUICKXOR) for path in paths}


def sha1(paths: list[Path]) -> dict[str, str]:
    return {path.name: hash_file(path, HashType.SHA1) for path in paths}


def rclone(folder: Path) -> dict[str, str]:
    out = subprocess.run(
        ["rclone", "hashsum", "quickxor", "--base64", "--config", os.devnull, str(folder)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    pairs = (line.split("  ", 1) for line in out.splitlines() if line.strip())
    # rclone's --base64 is the URL-safe alphabet; Graph (and we) use the standard one.
    standard = str.maketrans("-_", "+/")
    return {name: digest.translate(standard) for digest, name in pairs}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gib", type=float, default=2.0, help="total size of the files")
    parser.add_argument("--rounds", type=int, default=3, help="timed runs; the best counts")
    parser.add_argument("--dir", type=Path, help="where to make the files (default: a temp dir)")
    args = parser.parse_args()
    total = int(args.gib * 1024**3)

    with tempfile.TemporaryDirectory(prefix="bench-quickxor-", dir=args.dir) as tmp:
        folder = Path(tmp)
        paths = make_files(folder, total)
        warm(paths)
        cpus = os.cpu_count()
        print(f"{len(paths)} files, {total / GB:.2f} GB, best of {args.rounds}, {cpus} CPUs")

        results: dict[str, float] = {}
        seconds, digests = time_best(args.rounds, lambda: ours(paths))
        results["mobilise QuickXorHash (1 thread)"] = total / seconds / GB
        seconds, _ = time_best(args.rounds, lambda: sha1(paths))
        results["hashlib.sha1 (1 thread)"] = total / seconds / GB

        if shutil.which("rclone"):
            seconds, theirs = time_best(args.rounds, lambda: rclone(folder))
            if theirs != digests:
                differ = sorted(n for n in digests if digests[n] != theirs.get(n))  # type: ignore[union-attr]
                print(f"rclone disagrees on {len(differ)} files, e.g. {differ[:3]}")
                return 1
            results["rclone hashsum quickxor (8 checkers)"] = total / seconds / GB
            print("rclone and mobilise agree on every digest")
        else:
            print("rclone not installed (apt-get install rclone): no rclone figure")

    anchor = results["mobilise QuickXorHash (1 thread)"]
    print(f"\n| {'contender':<38} | {'GB/s':>6} | {'mobilise is':>12} |")
    print(f"|{'-' * 40}|{'-' * 8}|{'-' * 14}|")
    for name, rate in results.items():
        print(f"| {name:<38} | {rate:6.2f} | {anchor / rate:11.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
