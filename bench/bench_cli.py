"""What starting the ``mobilise`` command costs, against its anchors in the same run.

    .venv/bin/python bench/bench_cli.py [--runs 15] [--hash-runs 5] [--cache DIR]

Each contender is a fresh process; wall time and maximum resident memory (as GNU time,
Debian package ``time``, reports it) are the median of ``--runs``:

* ``python -c pass``: the interpreter alone (the anchor);
* ``mobilise --help`` and ``mobilise version``: targets 0.25 s wall and 60 MB;
* ``mobilise hash FILE`` against ``rclone hashsum quickxor FILE`` (Debian package
  ``rclone``) on one 1 GiB file of random bytes, end to end (start-up included), the file
  read from the page cache. Target: mobilise at least 1.5x faster. The file is made once
  and kept in ``--cache`` (default ``$XDG_CACHE_HOME/mobilise-bench``); rclone's digest is
  checked against ours before its time counts.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TIME = "/usr/bin/time"  # GNU time (Debian package ``time``)
GiB = 1024**3
MiB = 1024 * 1024


def mobilise_command() -> list[str]:
    """The installed console script next to this interpreter, as an operator runs it."""
    script = Path(sys.executable).parent / "mobilise"
    return [str(script)] if script.exists() else [sys.executable, "-m", "mobilise.cli.main"]


def run_once(argv: list[str]) -> tuple[float, float, float, bytes]:
    """Wall seconds, CPU seconds (user + system), maximum RSS in MB, and stdout of one
    run of ``argv``.

    The memory is what GNU time reports for its child: a process forked straight from
    this one would carry this interpreter's own high-water mark into its figure (Linux
    keeps it across exec), so time, a small C program, starts it instead."""
    with tempfile.NamedTemporaryFile("r") as report:
        start = time.perf_counter()
        done = subprocess.run([TIME, "-f", "%U %S %M", "-o", report.name, *argv],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=False)
        wall = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} exited {done.returncode}")
        user, system, max_kib = report.read().split()[-3:]
    return wall, float(user) + float(system), int(max_kib) / 1024, done.stdout


def measure(argv: list[str], runs: int) -> tuple[float, float, float, bytes]:
    results = [run_once(argv) for _ in range(runs)]
    return (statistics.median(r[0] for r in results),
            statistics.median(r[1] for r in results),
            statistics.median(r[2] for r in results), results[-1][3])


def cached_file(folder: Path) -> Path:
    """1 GiB of random bytes, made once (in 64 MiB pieces) and kept."""
    path = folder / "random-1gib.bin"
    if not path.exists() or path.stat().st_size != GiB:
        folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part")
        with partial.open("wb") as out:
            for _ in range(GiB // (64 * MiB)):
                out.write(os.urandom(64 * MiB))
        partial.rename(path)
    with path.open("rb", buffering=0) as stream:  # into the page cache
        while stream.read(16 * MiB):
            pass
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="runs of each start-up figure")
    parser.add_argument("--hash-runs", type=int, default=5, help="runs of each hash figure")
    cache_home = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    parser.add_argument("--cache", type=Path, default=cache_home / "mobilise-bench",
                        help="where the 1 GiB file is kept")
    args = parser.parse_args()
    if not Path(TIME).exists():
        print("GNU time is needed for the memory figures: apt-get install time")
        return 1
    mobilise = mobilise_command()
    load = os.getloadavg()[0]
    print(f"median of {args.runs} runs ({args.hash_runs} for hashing), {os.cpu_count()} CPUs, "
          f"load {load:.1f}, Python {sys.version.split()[0]}\n")

    anchor, anchor_cpu, anchor_rss, _ = measure([sys.executable, "-c", "pass"], args.runs)
    rows = [("python -c pass (anchor)", anchor, anchor_cpu, anchor_rss)]
    for words in (["--help"], ["version"]):
        wall, cpu, rss, _ = measure([*mobilise, *words], args.runs)
        rows.append((f"mobilise {' '.join(words)}", wall, cpu, rss))
    # On a shared machine the wall time is mostly waiting for a core; the CPU time is
    # what the command costs.
    print(f"| {'command':<26} | {'wall s':>7} | {'CPU s':>6} | {'max RSS MB':>10} | "
          f"{'wall vs anchor':>14} | target |")
    print(f"|{'-' * 28}|{'-' * 9}|{'-' * 8}|{'-' * 12}|{'-' * 16}|--------|")
    for name, wall, cpu, rss in rows:
        target = ("" if name.startswith("python") else
                  "met" if wall < 0.25 and rss < 60 else "MISSED")
        print(f"| {name:<26} | {wall:7.3f} | {cpu:6.2f} | {rss:10.1f} | "
              f"{wall / anchor:13.1f}x | {target:<6} |")

    if not shutil.which("rclone"):
        print("\nrclone not installed (apt-get install rclone): no hash figures")
        return 0
    path = cached_file(args.cache)
    ours_s, ours_cpu, ours_rss, ours_out = measure([*mobilise, "hash", str(path)],
                                                   args.hash_runs)
    theirs_s, theirs_cpu, theirs_rss, theirs_out = measure(
        ["rclone", "hashsum", "quickxor", "--base64", "--config", os.devnull, str(path)],
        args.hash_runs)
    # rclone's --base64 is the URL-safe alphabet; Graph (and we) use the standard one.
    ours_digest = ours_out.split()[0].decode()
    theirs_digest = theirs_out.split()[0].decode().translate(str.maketrans("-_", "+/"))
    if ours_digest != theirs_digest:
        print(f"\nrclone disagrees: {theirs_digest} against our {ours_digest}")
        return 1
    ratio = theirs_s / ours_s
    print(f"\n1 GiB file from the page cache (digests agree: {ours_digest})\n")
    print(f"| {'command':<30} | {'wall s':>7} | {'CPU s':>6} | {'GB/s':>5} | {'max RSS MB':>10} |")
    print(f"|{'-' * 32}|{'-' * 9}|{'-' * 8}|{'-' * 7}|{'-' * 12}|")
    for name, seconds, cpu, rss in (
            ("mobilise hash FILE", ours_s, ours_cpu, ours_rss),
            ("rclone hashsum quickxor FILE", theirs_s, theirs_cpu, theirs_rss)):
        print(f"| {name:<30} | {seconds:7.3f} | {cpu:6.2f} | {GiB / seconds / 1e9:5.2f} | "
              f"{rss:10.1f} |")
    print(f"\nmobilise is {ratio:.2f}x faster than rclone end to end "
          f"(target 1.5x: {'met' if ratio >= 1.5 else 'MISSED'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
