"""A migration killed with SIGKILL at 20 random moments and run again ends with every file
present exactly once, with the right content and times, and nothing that had been
verified uploaded again."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from mobilise.migration.journal import journal_path, read_journal
from tests.migration.conftest import GuardedTree, make_tree, tree_snapshot

CHILD = Path(__file__).with_name("sync_child.py")
ROOT = Path(__file__).resolve().parents[2]


def start_child(source: Path, destination: Path, data_dir: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    return subprocess.Popen([sys.executable, str(CHILD), str(source), str(destination),
                             str(data_dir), "pre-seed"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def destination_files(root: Path) -> dict[str, tuple[int, int]]:
    """relative path → (inode, mtime_ns) of every entry, partial files included."""
    out = {}
    for folder, _dirs, files in os.walk(root):
        for name in files:
            info = (Path(folder) / name).stat()
            out[str((Path(folder) / name).relative_to(root))] = (info.st_ino, info.st_mtime_ns)
    return out


def journal_lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def kill_at_random_moment(child: subprocess.Popen[bytes], journal: Path,
                          rng: random.Random) -> bool:
    """SIGKILL the child at a random point of its work: during start-up and listing
    (one time in five), or after a random number of further files, plus a random few
    milliseconds so the kill lands inside a copy as often as between two."""
    if rng.random() < 0.2:
        time.sleep(rng.uniform(0.0, 0.6))
    else:
        target = journal_lines(journal) + rng.randint(1, 80)
        while journal_lines(journal) < target and child.poll() is None:
            time.sleep(0.001)
        time.sleep(rng.uniform(0.0, 0.01))
    if child.poll() is not None:
        return False
    child.send_signal(signal.SIGKILL)
    child.wait()
    return True


def test_sigkill_at_twenty_random_moments_then_rerun(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    make_tree(source, 2000, seed=7, max_size=60_000)
    guard = GuardedTree(source, tree_snapshot(source))
    destination = tmp_path / "dest"
    destination.mkdir()
    data_dir = tmp_path / "data"
    journal = journal_path(data_dir, "p1", "pre-seed")
    rng = random.Random(20261122)
    first_verified: dict[str, tuple[int, int]] = {}
    kills = 0
    while kills < 20:
        child = start_child(source, destination, data_dir)
        if not kill_at_random_moment(child, journal, rng):
            break  # finished before the kill: nothing left to interrupt
        child.wait()
        kills += 1
        now = destination_files(destination)
        for record in read_journal(journal_path(data_dir, "p1", "pre-seed")):
            if record.outcome == "copied" and record.path not in first_verified:
                first_verified[record.path] = now[record.path]
    assert kills == 20, f"only {kills} runs were interrupted; the tree is too small"
    final = start_child(source, destination, data_dir)
    out, err = final.communicate(timeout=300)
    assert final.returncode == 0, err.decode()

    assert tree_snapshot(destination) == guard.snapshot  # content, names and times
    ends = destination_files(destination)
    assert set(ends) == {p for p, v in guard.snapshot.items() if v[0] != "folder"}
    for path, identity in first_verified.items():
        assert ends[path] == identity, f"{path} was uploaded again after it was verified"
    copies: dict[str, int] = {}
    for record in read_journal(journal_path(data_dir, "p1", "pre-seed")):
        if record.outcome == "copied":
            copies[record.path] = copies.get(record.path, 0) + 1
    assert max(copies.values()) == 1
    assert tree_snapshot(source) == guard.snapshot
