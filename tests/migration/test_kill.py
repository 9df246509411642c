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
from datetime import UTC, datetime
from pathlib import Path

from mobilise.emulator.server import EmulatorProcess
from mobilise.migration.journal import journal_path, read_journal
from mobilise.migration.sync import walk
from mobilise.storage.base import EntryKind
from mobilise.storage.quickxor import QuickXorHash
from tests.migration.conftest import GuardedTree, make_tree, tree_snapshot
from tests.storage.onedrive_fixture import (
    fresh_upn,
    make_onedrive_backend,
    onedrive_emulator,
    provision,
)

__all__ = ["onedrive_emulator"]

CHILD = Path(__file__).with_name("sync_child.py")
ROOT = Path(__file__).resolve().parents[2]


def start_child(source: Path, destination: Path | str, data_dir: Path,
                extra: list[str] | None = None) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    return subprocess.Popen([sys.executable, str(CHILD), str(source), str(destination),
                             str(data_dir), "pre-seed", *(extra or [])], env=env,
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
                          rng: random.Random, per_kill: int = 80) -> bool:
    """SIGKILL the child at a random point of its work: during start-up and listing
    (one time in five), or after a random number of further files, plus a random few
    milliseconds so the kill lands inside a copy as often as between two."""
    if rng.random() < 0.2:
        time.sleep(rng.uniform(0.0, 0.6))
    else:
        target = journal_lines(journal) + rng.randint(1, per_kill)
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


def test_sigkill_at_twenty_random_moments_into_onedrive_then_rerun(
        onedrive_emulator: EmulatorProcess, tmp_path: Path) -> None:
    """The same against the Graph emulator: some files go up in upload sessions of several
    fragments, so kills land inside sessions too."""
    source = tmp_path / "source"
    source.mkdir()
    make_tree(source, 400, seed=11, max_size=60_000)
    big = source / "Documents" / "evidence.bin"
    big.parent.mkdir(exist_ok=True)
    big.write_bytes(random.Random(5).randbytes(3 * 327_680 + 17))
    guard = GuardedTree(source, tree_snapshot(source))
    data_dir = tmp_path / "data"
    upn = fresh_upn("kill")
    provision(onedrive_emulator, upn)
    extra = [onedrive_emulator.graph_url, onedrive_emulator.authority,
             str(onedrive_emulator.ca), upn]
    journal = journal_path(data_dir, "p1", "pre-seed")
    rng = random.Random(4242)
    kills = 0
    while kills < 20:
        child = start_child(source, "onedrive", data_dir, extra)
        if not kill_at_random_moment(child, journal, rng, per_kill=30):
            break
        kills += 1
    assert kills == 20, f"only {kills} runs were interrupted"
    final = start_child(source, "onedrive", data_dir, extra)
    _out, err = final.communicate(timeout=300)
    assert final.returncode == 0, err.decode()

    backend = make_onedrive_backend(onedrive_emulator, tmp_path / "check", upn=upn)
    arrived = {e.path: e for e in walk(backend) if e.kind is EntryKind.FILE}
    expected = {p: v for p, v in guard.snapshot.items() if v[0] != "folder"}
    assert set(arrived) == set(expected)  # every file exactly once, nothing extra
    for path, entry in arrived.items():
        data = (source / path).read_bytes()
        assert entry.size == len(data)
        assert entry.hashes["quickxor"] == QuickXorHash(data).b64digest()
        kept = datetime.fromtimestamp(expected[path][2] // 1000 / 1e6, UTC)
        assert abs(entry.modified - kept) < backend.time_precision  # OneDrive keeps seconds
    copies: dict[str, int] = {}
    for record in read_journal(journal):
        if record.outcome == "copied":
            copies[record.path] = copies.get(record.path, 0) + 1
    assert max(copies.values()) == 1  # nothing verified was uploaded again
    assert tree_snapshot(source) == guard.snapshot
