"""Local-backend behaviour the shared conformance suite cannot arrange through the
Backend interface: special files, failing sources, a missing root."""

from __future__ import annotations

import io
import os
from datetime import timedelta
from pathlib import Path

import pytest

from mobilise.storage.base import EntryKind, EntryNotFound, KindMismatch
from mobilise.storage.local import LocalBackend


class FailingStream(io.RawIOBase):
    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        raise OSError(5, "Input/output error on the source")


def test_fifo_is_special_and_reading_it_does_not_hang(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    backend = LocalBackend(tmp_path)
    assert backend.stat("pipe").kind is EntryKind.SPECIAL
    with pytest.raises(KindMismatch):
        backend.open_read("pipe")


def test_source_errors_surface_as_themselves_and_leave_nothing(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path)
    with pytest.raises(OSError, match="on the source"):
        backend.write("f.txt", FailingStream(), 10)  # type: ignore[arg-type]
    assert os.listdir(tmp_path) == []


def test_root_must_exist(tmp_path: Path) -> None:
    with pytest.raises(EntryNotFound):
        LocalBackend(tmp_path / "absent")


def test_root_may_itself_be_a_link(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "f.txt").write_bytes(b"x")
    (tmp_path / "mount").symlink_to(tmp_path / "real")
    assert [e.path for e in LocalBackend(tmp_path / "mount").list("")] == ["f.txt"]


def test_written_file_has_the_umask_mode(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path)
    backend.write("f.txt", io.BytesIO(b"x"), 1)
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "f.txt").stat().st_mode & 0o777 == 0o666 & ~umask


def test_coarser_time_precision_can_be_declared(tmp_path: Path) -> None:
    fat = LocalBackend(tmp_path, time_precision=timedelta(seconds=2))
    assert fat.time_precision == timedelta(seconds=2)
    assert LocalBackend(tmp_path).time_precision == timedelta(microseconds=1)


def test_count_below_counts_everything_but_folders_and_follows_no_link(
        tmp_path: Path) -> None:
    root = tmp_path / "drive"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "one.txt").write_bytes(b"1")
    (root / "a" / "b" / "two.txt").write_bytes(b"2")
    (root / "a" / "b" / "link").symlink_to(tmp_path)  # a link to a folder: one entry
    os.mkfifo(root / "a" / "pipe")
    (root / "empty").mkdir()
    backend = LocalBackend(root)
    assert backend.count_below("a") == 4
    assert backend.count_below("") == 4
    assert backend.count_below("empty") == 0
    listed = [e for e in backend.list("a/b") if e.kind is not EntryKind.FOLDER]
    assert backend.count_below("a/b") == len(listed) == 2


def test_reading_a_file_leaves_its_last_access_as_it_was(tmp_path: Path) -> None:
    """Retention rules select files "not opened for six years" by their access time: a
    copy that refreshed it would change the next round's decisions (archived files then
    copied into OneDrive by the sweep). The filesystem here updates access times on read
    (relatime updates an access time older than the modification)."""
    path = tmp_path / "old.txt"
    path.write_bytes(b"a statement from 2015")
    accessed, modified = 1_420_070_400 * 10**9, 1_451_606_400 * 10**9  # 2015, 2016
    os.utime(path, ns=(accessed, modified))
    with LocalBackend(tmp_path).open_read("old.txt") as stream:
        assert stream.read() == b"a statement from 2015"
    assert os.stat(path).st_atime_ns == accessed
