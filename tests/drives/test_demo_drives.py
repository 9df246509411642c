"""The synthetic H: drive generator: deterministic, realistic, and carrying problems."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from mobilise.core.clock import SystemClock
from mobilise.demo.drives import DemoPerson, generate_drives
from mobilise.drives.assess import DriveInventory, assess
from mobilise.drives.scan import scan_drive

TODAY = datetime(2026, 11, 1, tzinfo=UTC)
PEOPLE = [DemoPerson(str(200000 + i), f"user{i}", "Alex", f"Smith{i}", "CE") for i in range(12)]


def _listing(root: Path) -> list[tuple[bytes, int, int]]:
    out = []
    for folder, _, files in os.walk(os.fsencode(root)):
        for name in files:
            st = os.lstat(os.path.join(folder, name))
            out.append((os.path.relpath(os.path.join(folder, name), os.fsencode(root)),
                        st.st_size, int(st.st_mtime)))
    return sorted(out)


def test_same_seed_same_drives(tmp_path):
    a = generate_drives(PEOPLE, tmp_path / "a", seed=7, today=TODAY)
    b = generate_drives(PEOPLE, tmp_path / "b", seed=7, today=TODAY)
    assert a == b
    assert _listing(tmp_path / "a") == _listing(tmp_path / "b")
    generate_drives(PEOPLE, tmp_path / "c", seed=8, today=TODAY)
    assert _listing(tmp_path / "c") != _listing(tmp_path / "a")


def test_drives_are_small_on_disk_realistic_and_carry_problems(tmp_path):
    stats = generate_drives(PEOPLE, tmp_path, seed=1322, today=TODAY, orphans=2,
                            problem_rate=1.0)
    homes = sorted(p.name for p in tmp_path.iterdir())
    assert len(homes) == len(PEOPLE) + 2
    assert 20 * len(PEOPLE) <= stats.files <= 200 * len(PEOPLE) + 4 * len(PEOPLE)
    used = sum(os.lstat(os.path.join(f, n)).st_blocks * 512
               for f, _, names in os.walk(tmp_path) for n in names)
    assert used < stats.bytes / 20  # sparse: nominal sizes, little disk
    assert stats.problems > 0
    kinds: set[str] = set()
    for person in PEOPLE:
        result = scan_drive(person.key, f"{person.sam}@example.police.uk", tmp_path / person.sam,
                            tmp_path.parent / "data", SystemClock())
        found = assess([DriveInventory(person.key, "x@example.police.uk", result.inventory)],
                       quota_bytes=1024**4)
        kinds |= set(found.findings.column("finding").to_pylist())
        times = [m for _, _, m in _listing(tmp_path / person.sam)]
        assert min(times) < TODAY.timestamp() - 365 * 86400  # years of history
    assert len(kinds) >= 8, kinds
