"""The scanner: every strange entry recorded, never a crash, never a partial inventory."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from mobilise.core.clock import FixedClock, SystemClock
from mobilise.core.errors import NotFound
from mobilise.drives.assess import DriveInventory, assess
from mobilise.drives.scan import (
    TEMP_SUFFIX,
    DriveToScan,
    ScanFailure,
    ScanInterrupted,
    ScanResult,
    compiled_lister_available,
    inventories,
    inventory_metadata,
    latest_inventory,
    scan_drive,
    scan_drives,
)
from tests.drives.conftest import CROWDED_ITEMS, EXPECTED, NOBODY, ProblemTree

UPN = "jo.bloggs@example.police.uk"
CLOCK = FixedClock(datetime(2026, 11, 22, 9, 0, tzinfo=UTC))
# Both listers: the pure-Python walk (the reference) and the compiled one when built.
LISTERS = [
    pytest.param(False, id="python"),
    pytest.param(True, id="compiled"),
]


@pytest.fixture
def compiled_lister() -> None:
    """The compiled lister is built by script/bootstrap wherever gcc and the Python headers
    are (as on CI); its tests fail, never skip, when it is missing."""
    if not compiled_lister_available():
        pytest.fail("the compiled lister (mobilise.drives._lister) is not built: install gcc "
                    "and the Python headers, then re-run script/bootstrap")


def _scan_as_nobody(tree: ProblemTree, queue: multiprocessing.Queue,  # type: ignore[type-arg]
                    compiled: bool) -> None:
    """Runs in a forked child: drop root (root reads chmod 000 folders regardless), prove
    the locked folder is really unreadable now, then scan, deleting a file mid-scan."""
    try:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
        try:
            os.listdir(tree.locked)
            queue.put(("error", "the locked folder is readable: the test proves nothing"))
            return
        except PermissionError:
            pass

        def delete_mid_scan(path: str) -> None:
            if path == str(tree.vanish):
                os.unlink(path)

        result = scan_drive("p1", UPN, tree.home, tree.data_dir, CLOCK, batch_rows=1000,
                            before_stat=delete_mid_scan, compiled=compiled)
        queue.put(("ok", str(result.inventory)))
    except BaseException as exc:  # reported to the parent, which fails the test
        queue.put(("error", repr(exc)))


def _scan_unprivileged(tree: ProblemTree, compiled: bool) -> Path:
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_scan_as_nobody, args=(tree, queue, compiled))
    child.start()
    status, value = queue.get(timeout=120)
    child.join(30)
    assert status == "ok", value
    return Path(value)


@pytest.mark.parametrize("compiled", LISTERS)
def test_problem_tree_scans_and_every_problem_has_the_right_kind(problem_tree, compiled,
                                                                 request):
    if compiled:
        request.getfixturevalue("compiled_lister")
    assert os.geteuid() == 0, "the tree is built as root and scanned as nobody"
    inventory = _scan_unprivileged(problem_tree, compiled)
    table = pq.read_table(inventory)
    rows = {r["path"]: r for r in table.to_pylist()}
    assert rows[b"Locked"]["error"] == "permission_denied"
    assert rows[b"vanish.txt"]["error"] == "vanished"
    assert rows[b"pipe"]["kind"] == "special"
    assert rows[b"loop1"]["kind"] == "symlink" and rows[b"up"]["kind"] == "symlink"
    assert rows[b"caf\xe9.txt"]["utf8"] is False
    assert rows[b"caf\xe9.txt"]["path_text"] == "caf\\xe9.txt"
    assert rows[b"big.vhd"]["size"] == 251 * 1024**3
    assert rows[b"ok.txt"]["size"] == 5 and rows[b"ok.txt"]["extension"] == "txt"
    assert rows[b"Letters/fine.txt"]["depth"] == 2
    assert rows[b"Letters/fine.txt"]["parent_id"] == rows[b"Letters"]["id"]
    # Nothing under the symlink to ".." was walked, and nothing was read twice.
    assert not any(p.startswith(b"up/") for p in rows)
    assert table.num_rows == len(rows)

    result = assess([DriveInventory("p1", UPN, inventory)], quota_bytes=1024**4)
    found: dict[bytes, set[str]] = {}
    for f in result.findings.to_pylist():
        found.setdefault(f["path"], set()).add(f["finding"])
    assert found == EXPECTED
    person = result.people[0]
    assert person.files == len([r for r in rows.values() if r["kind"] == "file"])
    assert person.files > CROWDED_ITEMS
    assert person.fits_quota  # the 251 GB sparse file still fits in 1 TB


@pytest.mark.usefixtures("compiled_lister")
def test_both_listers_give_the_same_inventory(problem_tree):
    """Every column of every row, on the tree of strange entries (scanned as root, so the
    locked folder is read too), in small batches so rows cross batch boundaries."""
    home = os.fsencode(problem_tree.home)
    # Extensions lower-cased by Unicode rules, and names below a folder that is not UTF-8.
    os.mkdir(os.path.join(home, b"\xff\xfeOld"))
    for rel in ("Letters/photo.ÉTÉ".encode(), b"Letters/x.D\xc9", b"\xff\xfeOld/inner.DOC"):
        with open(os.path.join(home, rel), "wb") as fh:
            fh.write(b"abc")
    # A first listing may update the folders' access times (relatime); read them once.
    scan_drive("p0", UPN, problem_tree.home, problem_tree.data_dir, CLOCK, compiled=False)
    tables = []
    for person, compiled in (("p1", False), ("p2", True)):
        result = scan_drive(person, UPN, problem_tree.home, problem_tree.data_dir, CLOCK,
                            batch_rows=777, compiled=compiled)
        tables.append(pq.read_table(result.inventory).sort_by("id"))
    python, compiled_table = tables
    assert python.num_rows > CROWDED_ITEMS
    assert python.schema.equals(compiled_table.schema)
    for column in python.column_names:
        assert python[column].equals(compiled_table[column]), column


def test_without_the_compiled_lister_the_python_walk_scans(tmp_path, monkeypatch):
    import mobilise.drives.scan as scan_module

    monkeypatch.setattr(scan_module, "_lister", None)
    assert not compiled_lister_available()
    home = tmp_path / "home"
    _split_tree(home, 3, 4)
    result = scan_drive("p1", UPN, home, tmp_path / "data", CLOCK, processes=2)
    assert result.entries == 3 * 7 + 3
    (again,) = scan_drives([DriveToScan("p2", UPN, str(home))], tmp_path / "data", CLOCK)
    assert isinstance(again, ScanResult) and again.entries == result.entries


def test_scan_metadata_and_counts(tmp_path):
    home = tmp_path / "home"
    (home / "docs").mkdir(parents=True)
    (home / "docs" / "a.txt").write_bytes(b"12345")
    with open(home / "big.vhd", "wb") as fh:
        fh.truncate(3 * 1024**3)
    result = scan_drive("p1", UPN, home, tmp_path / "data", CLOCK)
    meta = inventory_metadata(result.inventory)
    assert meta["mobilise.person_key"] == "p1"
    assert meta["mobilise.upn"] == UPN
    assert meta["mobilise.root"] == str(home)
    assert int(meta["mobilise.entries"]) == result.entries == 3
    assert pq.read_metadata(result.inventory).num_rows == 3
    assert (result.files, result.bytes, result.errors) == (2, 5 + 3 * 1024**3, 0)
    assert result.inventory.name == f"{result.scan_id}.parquet"
    assert result.scan_id.startswith("20261122T090000")
    assert latest_inventory(tmp_path / "data", "p1") == result.inventory


def test_too_deep_is_recorded_and_not_descended(tmp_path):
    deep = tmp_path / "home" / "a" / "b" / "c" / "d"
    deep.mkdir(parents=True)
    (deep / "f.txt").write_text("x")
    result = scan_drive("p1", UPN, tmp_path / "home", tmp_path / "data", CLOCK, max_depth=3)
    rows = {r["path"]: r for r in pq.read_table(result.inventory).to_pylist()}
    assert rows[b"a/b/c"]["error"] == "too_deep"
    assert rows[b"a/b"]["error"] is None
    assert not any(p.startswith(b"a/b/c/") for p in rows)


def test_loop_detection_on_a_mount_loop_is_mandatory_where_mount_works(tmp_path):
    """mount --bind works here (we are root); fail loudly rather than skip if not."""
    target = tmp_path / "t"
    (target / "inner").mkdir(parents=True)
    done = subprocess.run(["mount", "--bind", str(target), str(target / "inner")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    try:
        result = scan_drive("p1", UPN, target, tmp_path / "data", CLOCK)
        rows = {r["path"]: r for r in pq.read_table(result.inventory).to_pylist()}
        assert rows[b"inner"]["error"] == "loop"
    finally:
        subprocess.run(["umount", str(target / "inner")], check=True)


def test_missing_home_is_not_found(tmp_path):
    with pytest.raises(NotFound):
        scan_drive("p1", UPN, tmp_path / "nope", tmp_path / "data", CLOCK)


_KILLABLE_SCAN = """
import sys, time
from pathlib import Path
from mobilise.core.clock import SystemClock
from mobilise.drives.scan import scan_drive
seen = 0
marker = Path(sys.argv[3])
def slow_down(path):
    global seen
    seen += 1
    if seen == 3000:
        marker.write_text("halfway")
        time.sleep(600)
scan_drive("p1", "jo@example.police.uk", sys.argv[1], Path(sys.argv[2]), SystemClock(),
           batch_rows=500, before_stat=slow_down)
"""


def test_a_scan_killed_halfway_leaves_no_complete_inventory_and_the_next_completes(tmp_path):
    home = tmp_path / "home"
    for folder in range(20):
        (home / f"f{folder}").mkdir(parents=True)
        for i in range(300):
            (home / f"f{folder}" / f"{i}.txt").write_bytes(b"")
    data = tmp_path / "data"
    marker = tmp_path / "halfway"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen([sys.executable, "-c", _KILLABLE_SCAN, str(home), str(data),
                              str(marker)], env=env)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert child.poll() is None, "the scan ended before it was killed"
            assert time.monotonic() < deadline, "the scan never got halfway"
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
    folder = data / "inventory" / "p1"
    temps = list(folder.glob(f".*{TEMP_SUFFIX}"))
    assert len(temps) == 1 and temps[0].stat().st_size > 0  # batches had been written
    with pytest.raises(Exception):  # noqa: B017 - any reader must refuse it
        pq.read_metadata(temps[0])
    assert inventories(data, "p1") == []
    assert latest_inventory(data, "p1") is None

    result = scan_drive("p1", "jo@example.police.uk", home, data, SystemClock())
    assert inventories(data, "p1") == [result.inventory]
    assert list(folder.glob(f".*{TEMP_SUFFIX}")) == []
    assert result.entries == 20 + 20 * 300
    assert pq.read_metadata(result.inventory).num_rows == result.entries


def test_scan_many_people_in_processes_with_progress(tmp_path):
    homes = []
    for n in range(3):
        home = tmp_path / f"h{n}"
        (home / "docs").mkdir(parents=True)
        for i in range(n * 10 + 1):
            (home / "docs" / f"{i}.txt").write_text("abc")
        homes.append(home)
    drives = [DriveToScan(f"p{n}", f"p{n}@example.police.uk", str(h))
              for n, h in enumerate(homes)]
    drives.append(DriveToScan("gone", "gone@example.police.uk", str(tmp_path / "missing")))

    class Recorder:
        def __init__(self) -> None:
            self.total: int | None = None
            self.done = 0
            self.stats: dict[str, object] = {}
            self.finished = False

        def start(self, total, description):
            self.total = total

        def advance(self, n=1, **stats):
            self.done += n
            self.stats.update(stats)

        def finish(self, message=""):
            self.finished = True

    progress = Recorder()
    results = scan_drives(drives, tmp_path / "data", SystemClock(), processes=2,
                          progress=progress)
    assert [type(r) for r in results] == [ScanResult, ScanResult, ScanResult, ScanFailure]
    assert [r.files for r in results[:3]] == [1, 11, 21]  # type: ignore[union-attr]
    assert "does not exist" in results[3].reason  # type: ignore[union-attr]
    assert progress.total == 4 and progress.done == 4 and progress.finished
    assert progress.stats["entries"] == sum(r.entries for r in results[:3])  # type: ignore[union-attr]


def _many_files(home: Path, count: int) -> None:
    home.mkdir(parents=True)
    fd = os.open(home, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for i in range(count):
            os.close(os.open(f"{i}.txt", os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=fd))
    finally:
        os.close(fd)


def test_a_killed_scanning_process_raises_scan_interrupted_and_leaves_nothing_partial(
        tmp_path, monkeypatch):
    import threading

    import mobilise.drives.scan as scan_module

    drives = []
    for n in range(4):
        _many_files(tmp_path / f"h{n}", 20_000)
        drives.append(DriveToScan(f"p{n}", f"p{n}@example.police.uk", str(tmp_path / f"h{n}")))
    data = tmp_path / "data"
    marker = tmp_path / "halfway"
    real_write = scan_module._write_inventory

    def stall_halfway_through_p0(person_key, *args, **kwargs):  # runs in the worker
        if person_key == "p0":
            seen = [0]

            def stall(path):
                seen[0] += 1
                if seen[0] == 3000:
                    marker.write_text(str(os.getpid()))
                    time.sleep(600)

            kwargs["before_stat"] = stall
        return real_write(person_key, *args, **kwargs)

    monkeypatch.setattr(scan_module, "_write_inventory", stall_halfway_through_p0)
    killed: list[int] = []

    def kill_the_stalled_scanner() -> None:
        deadline = time.monotonic() + 120
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        killed.append(int(marker.read_text()))
        os.kill(killed[0], signal.SIGKILL)

    killer = threading.Thread(target=kill_the_stalled_scanner)
    killer.start()
    try:
        with pytest.raises(ScanInterrupted) as raised:
            scan_drives(drives, data, SystemClock(), processes=2)
    finally:
        killer.join()
    assert killed
    assert "exit code -9" in str(raised.value)
    reported = raised.value.results
    assert len(reported) == 4 and reported[0] is None
    assert inventories(data, "p0") == []
    assert len(list((data / "inventory" / "p0").glob(f".*{TEMP_SUFFIX}"))) == 1
    for drive, result in zip(drives, reported, strict=True):
        complete = inventories(data, drive.person_key)
        if isinstance(result, ScanResult):
            assert complete == [result.inventory]
        for inventory in complete:  # whatever reads as complete is complete
            assert pq.read_metadata(inventory).num_rows == 20_000
    assert not any(isinstance(r, ScanFailure) for r in reported)

    monkeypatch.setattr(scan_module, "_write_inventory", real_write)
    again = scan_drives(drives, data, SystemClock(), processes=2)
    assert [r.entries for r in again] == [20_000] * 4  # type: ignore[union-attr]
    for drive in drives:  # no temp file of the killed scan is left behind
        assert list((data / "inventory" / drive.person_key).glob(f".*{TEMP_SUFFIX}")) == []


def _split_tree(home: Path, folders: int, files: int) -> None:
    for f in range(folders):
        _many_files(home / f"top{f}" / "inner", files)
        (home / f"top{f}" / "note.txt").write_bytes(b"abc")
    (home / "root.txt").write_bytes(b"x")
    os.symlink("..", home / "up")
    os.mkfifo(home / "pipe")


@pytest.mark.usefixtures("compiled_lister")
def test_one_large_drive_split_over_processes_gives_the_same_inventory(tmp_path):
    home = tmp_path / "home"
    _split_tree(home, 40, 50)
    scan_drive("p0", UPN, home, tmp_path / "data", CLOCK)  # folders' access times settle
    results = [scan_drive(f"p{n}", UPN, home, tmp_path / "data", CLOCK, processes=n,
                          batch_rows=300) for n in (1, 2)]
    one, split = (pq.read_table(r.inventory).sort_by("path") for r in results)
    assert split.num_rows == one.num_rows == 40 * 53 + 3
    for column in one.column_names:
        if column not in ("id", "parent_id"):  # numbered per shard when split
            assert one[column].equals(split[column]), column
    paths = dict(zip(split["id"].to_pylist(), split["path"].to_pylist(), strict=True))
    assert len(paths) == split.num_rows  # ids unique
    for parent_id, path in zip(split["parent_id"].to_pylist(), split["path"].to_pylist(),
                               strict=True):
        parent = path.rpartition(b"/")[0]
        assert paths.get(parent_id, b"") == parent  # -1 (the root) for top-level entries
    assert (results[1].files, results[1].errors) == (results[0].files, results[0].errors)
    # scan_drives splits a single drive over its processes, with live progress
    seen: list[tuple[int, dict]] = []

    class Recorder:
        def start(self, total, description):
            pass

        def advance(self, n=1, **stats):
            seen.append((n, stats))

        def finish(self, message=""):
            pass

    (only,) = scan_drives([DriveToScan("p3", UPN, str(home))], tmp_path / "data", CLOCK,
                          processes=2, batch_rows=300, progress=Recorder())
    assert isinstance(only, ScanResult) and only.entries == one.num_rows
    assert sum(n for n, _ in seen) == 1 and len(seen) > 2  # batches as they are written
    assert seen[-1][1]["entries"] == one.num_rows


@pytest.mark.usefixtures("compiled_lister")
def test_a_killed_split_helper_raises_scan_interrupted_and_leaves_nothing_complete(
        tmp_path, monkeypatch):
    import threading

    import mobilise.drives.scan as scan_module

    home = tmp_path / "home"
    _split_tree(home, 40, 100)
    marker = tmp_path / "helper"

    def stalled_helper(*args, **kwargs):  # runs in the forked helper
        marker.write_text(str(os.getpid()))
        time.sleep(600)

    monkeypatch.setattr(scan_module, "_split_helper", stalled_helper)
    killed: list[int] = []

    def kill_the_helper() -> None:
        deadline = time.monotonic() + 120
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        killed.append(int(marker.read_text()))
        os.kill(killed[0], signal.SIGKILL)

    killer = threading.Thread(target=kill_the_helper)
    killer.start()
    try:
        with pytest.raises(ScanInterrupted, match="exit code -9"):
            scan_drives([DriveToScan("p1", UPN, str(home))], tmp_path / "data", CLOCK,
                        processes=2)
    finally:
        killer.join()
    assert killed
    assert inventories(tmp_path / "data", "p1") == []
    assert list((tmp_path / "data" / "inventory" / "p1").glob(f".*{TEMP_SUFFIX}")) == []


def test_an_empty_home_scans_and_assesses_to_nothing(tmp_path):
    (tmp_path / "home").mkdir()
    result = scan_drive("p1", UPN, tmp_path / "home", tmp_path / "data", CLOCK)
    assert (result.entries, result.files) == (0, 0)
    assessed = assess([DriveInventory("p1", UPN, result.inventory)], quota_bytes=1)
    assert assessed.findings.num_rows == 0
    assert assessed.people[0].ready


def _scan_unreadable_home(home: str, data: str, queue) -> None:  # type: ignore[no-untyped-def]
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)
    try:
        scan_drive("p1", UPN, home, Path(data), CLOCK)
        queue.put("scanned")
    except Exception as exc:
        queue.put(type(exc).__name__)


def test_an_unreadable_home_is_a_clear_error(tmp_path):
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="mobilise-drives-", dir="/tmp"))
    try:
        base.chmod(0o755)
        (base / "home").mkdir(mode=0o000)
        (base / "data").mkdir(mode=0o777)
        context = multiprocessing.get_context("fork")
        queue = context.Queue()
        child = context.Process(target=_scan_unreadable_home,
                                args=(str(base / "home"), str(base / "data"), queue))
        child.start()
        assert queue.get(timeout=60) == "InvalidInput"
        child.join(10)
    finally:
        (base / "home").chmod(0o755)
        import shutil

        shutil.rmtree(base)
