"""Source trees for migration tests, each guarded: a test fails if the migration changed
a single byte, name or modified time of its source."""

from __future__ import annotations

import hashlib
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


def tree_snapshot(root: Path) -> dict[str, tuple[str, int, int]]:
    """relative path → (sha256 or kind, size, mtime_ns) of everything under root."""
    snapshot: dict[str, tuple[str, int, int]] = {}
    for folder, dirs, files in os.walk(root, followlinks=False):
        for name in dirs + files:
            path = Path(folder) / name
            info = path.lstat()
            rel = str(path.relative_to(root))
            if path.is_symlink():
                snapshot[rel] = ("link:" + os.readlink(path), 0, 0)
            elif path.is_dir():
                snapshot[rel] = ("folder", 0, 0)
            else:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                snapshot[rel] = (digest, info.st_size, info.st_mtime_ns)
    return snapshot


def make_tree(root: Path, files: int, seed: int = 1, max_size: int = 70_000) -> None:
    rng = random.Random(seed)
    folders = ["", "Documents", "Documents/Reports 2019", "Pictures", "Pictures/Holiday",
               "Case Files/Op Nimbus"]
    for i in range(files):
        folder = root / rng.choice(folders)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"file-{i:05d}.dat"
        path.write_bytes(rng.randbytes(rng.choice([0, 1, 100, 4096, rng.randrange(max_size)])))
        moment = 1_500_000_000 + rng.randrange(100_000_000)
        os.utime(path, ns=(moment * 10**9 + 123_456_000, moment * 10**9 + 123_456_000))


@dataclass
class GuardedTree:
    root: Path
    snapshot: dict[str, tuple[str, int, int]]

    def accept_change(self) -> None:
        """The test itself changed the source on purpose: take a new reference."""
        self.snapshot = tree_snapshot(self.root)


@pytest.fixture
def source_tree(tmp_path: Path) -> Iterator[GuardedTree]:
    root = tmp_path / "source"
    root.mkdir()
    make_tree(root, 60)
    guard = GuardedTree(root, tree_snapshot(root))
    yield guard
    assert tree_snapshot(root) == guard.snapshot, "the migration changed its source"


@pytest.fixture
def destination_root(tmp_path: Path) -> Path:
    root = tmp_path / "onedrive"
    root.mkdir()
    return root
