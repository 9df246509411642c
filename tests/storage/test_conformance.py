"""The one conformance suite every storage backend passes, unedited.

Backends come from ``BACKENDS`` in conftest.py. What a backend cannot do is read from its
``capabilities``: a test of an optional feature runs only where the feature is declared,
and where it is not declared the suite checks the backend refuses cleanly instead.
"""

from __future__ import annotations

import hashlib
import io
import os
from datetime import UTC, datetime, timedelta

import pytest

from mobilise.storage.base import (
    Backend,
    Capability,
    Entry,
    EntryExists,
    EntryKind,
    EntryNotFound,
    FolderNotEmpty,
    NameRejected,
    SizeMismatch,
    StorageError,
)
from mobilise.storage.checksums import HashType, hash_stream
from tests.storage.conftest import Subject

MiB = 1024 * 1024


def put(backend: Backend, path: str, data: bytes, **times: datetime) -> Entry:
    return backend.write(path, io.BytesIO(data), len(data), **times)


def get(backend: Backend, path: str) -> bytes:
    with backend.open_read(path) as stream:
        return stream.read()


def children(backend: Backend, path: str = "") -> dict[str, Entry]:
    return {entry.name: entry for entry in backend.list(path)}


def close_enough(backend: Backend, got: datetime, wanted: datetime) -> bool:
    return abs(got - wanted) < max(backend.time_precision, timedelta(microseconds=1))


class TrickleStream:
    """A source that hands out at most ``step`` bytes per read, like a network body,
    and has no ``readinto``."""

    def __init__(self, data: bytes, step: int) -> None:
        self._inner = io.BytesIO(data)
        self._step = step

    def read(self, size: int = -1) -> bytes:
        return self._inner.read(self._step if size < 0 else min(size, self._step))


@pytest.fixture
def backend(subject: Subject) -> Backend:
    return subject.backend


def test_is_a_backend(backend: Backend) -> None:
    assert isinstance(backend, Backend)
    assert backend.time_precision >= timedelta(0)


def test_fresh_root_is_an_empty_folder(backend: Backend) -> None:
    assert list(backend.list("")) == []
    assert backend.stat("").kind is EntryKind.FOLDER


def test_listing_shows_kinds_sizes_and_paths(backend: Backend) -> None:
    put(backend, "a.txt", b"abc")
    backend.mkdir("sub")
    put(backend, "sub/b.txt", b"hello")
    top = children(backend)
    assert set(top) == {"a.txt", "sub"}
    assert (top["a.txt"].kind, top["a.txt"].size, top["a.txt"].path) == (
        EntryKind.FILE,
        3,
        "a.txt",
    )
    assert top["sub"].kind is EntryKind.FOLDER
    inner = children(backend, "sub")
    assert [(e.path, e.kind, e.size) for e in inner.values()] == [("sub/b.txt", EntryKind.FILE, 5)]


def test_listing_many_entries(backend: Backend) -> None:
    names = {f"file-{i:03d}.bin" for i in range(60)}
    for name in names:
        put(backend, name, name.encode())
    assert set(children(backend)) == names


@pytest.mark.parametrize("size", [0, 1, 1000, 5 * MiB + 7], ids=["empty", "1B", "1kB", "5MiB"])
def test_content_round_trip(backend: Backend, size: int) -> None:
    data = os.urandom(size)
    written = put(backend, "data.bin", data)
    assert (written.kind, written.size) == (EntryKind.FILE, size)
    assert backend.stat("data.bin").size == size
    assert get(backend, "data.bin") == data


def test_large_file_written_in_several_chunks(backend: Backend) -> None:
    data = os.urandom(12 * MiB + 5)
    backend.write("big.bin", TrickleStream(data, 256 * 1024), len(data))  # type: ignore[arg-type]
    assert backend.stat("big.bin").size == len(data)
    with backend.open_read("big.bin") as stream:
        assert hash_stream(stream, HashType.SHA256) == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(
    "modified",
    [
        datetime(2021, 3, 4, 5, 6, 7, 123456, tzinfo=UTC),
        datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC),
    ],
    ids=["2021", "1999"],
)
def test_modified_time_round_trip(backend: Backend, modified: datetime) -> None:
    written = put(backend, "dated.txt", b"x", modified=modified)
    assert close_enough(backend, written.modified, modified)
    assert close_enough(backend, backend.stat("dated.txt").modified, modified)
    assert close_enough(backend, children(backend)["dated.txt"].modified, modified)


def test_created_time_round_trip(backend: Backend) -> None:
    created = datetime(2015, 6, 7, 8, 9, 10, 500000, tzinfo=UTC)
    modified = datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)
    put(backend, "born.txt", b"x", modified=modified, created=created)
    seen = [backend.stat("born.txt"), children(backend)["born.txt"]]
    if Capability.CREATED_TIME not in backend.capabilities:
        return  # nothing promised about created times; the write itself must succeed
    for entry in seen:
        assert entry.created is not None
        assert close_enough(backend, entry.created, created)
        assert close_enough(backend, entry.modified, modified)


def test_set_times_on_file_and_folder(backend: Backend) -> None:
    if Capability.SET_TIMES not in backend.capabilities:
        pytest.skip("the backend declares no SET_TIMES")
    put(backend, "f.txt", b"x")
    backend.mkdir("d")
    moment = datetime(2010, 10, 10, 10, 10, 10, 250000, tzinfo=UTC)
    for path in ("f.txt", "d"):
        backend.set_times(path, modified=moment)
        assert close_enough(backend, backend.stat(path).modified, moment)
    assert get(backend, "f.txt") == b"x"


def test_set_times_on_missing_entry(backend: Backend) -> None:
    if Capability.SET_TIMES not in backend.capabilities:
        pytest.skip("the backend declares no SET_TIMES")
    with pytest.raises(EntryNotFound):
        backend.set_times("absent.txt", modified=datetime(2010, 1, 1, tzinfo=UTC))


ODD_NAMES = [
    "with space.txt",
    "café.txt",
    "日本語のファイル.txt",
    "emoji 😀 outside the BMP.txt",
    "percent %20 and #hash.txt",
    "apostrophe's & ampersand +plus.txt",
    "semi;colon,comma=equals.txt",
    "[brackets] {braces} (parens).txt",
    "many.dots.in.name.txt",
    "-leading-dash",
    "x" * 200 + ".txt",
]
NON_UTF8_NAME = os.fsdecode(b"caf\xe9-latin1.txt")


@pytest.mark.parametrize("name", ODD_NAMES, ids=range(len(ODD_NAMES)))
def test_odd_names_round_trip(backend: Backend, name: str) -> None:
    path = f"odd folder é/{name}"
    put(backend, path, name.encode())
    assert name in children(backend, "odd folder é")
    assert backend.stat(path).name == name
    assert get(backend, path) == name.encode()
    backend.remove(path)
    assert name not in children(backend, "odd folder é")


def test_name_that_is_not_utf8(backend: Backend) -> None:
    if Capability.RAW_NAMES not in backend.capabilities:
        # Declared impossible (SMB and Graph names are Unicode): refused, not mangled.
        with pytest.raises(NameRejected):
            put(backend, NON_UTF8_NAME, b"latin-1")
        assert list(backend.list("")) == []
        return
    put(backend, NON_UTF8_NAME, b"latin-1")
    (entry,) = backend.list("")
    assert entry.name == NON_UTF8_NAME
    assert entry.raw_name == b"caf\xe9-latin1.txt"
    assert not entry.valid_utf8
    assert get(backend, entry.path) == b"latin-1"


def test_nested_mkdir(backend: Backend) -> None:
    made = backend.mkdir("a/b/c")
    assert (made.kind, made.path) == (EntryKind.FOLDER, "a/b/c")
    for path in ("a", "a/b", "a/b/c"):
        assert backend.stat(path).kind is EntryKind.FOLDER
    backend.mkdir("a/b/c")  # an existing folder is fine
    assert list(backend.list("a/b/c")) == []


def test_write_creates_missing_parents(backend: Backend) -> None:
    put(backend, "x/y/z.txt", b"deep")
    assert backend.stat("x/y").kind is EntryKind.FOLDER
    assert get(backend, "x/y/z.txt") == b"deep"


def test_overwrite_replaces_content(backend: Backend) -> None:
    put(backend, "f.bin", os.urandom(100_000))
    put(backend, "f.bin", b"short")
    assert get(backend, "f.bin") == b"short"
    assert backend.stat("f.bin").size == 5
    assert list(children(backend)) == ["f.bin"]


def test_short_stream_leaves_the_old_file(backend: Backend) -> None:
    put(backend, "keep.txt", b"original")
    with pytest.raises(SizeMismatch):
        backend.write("keep.txt", io.BytesIO(b"new but short"), 1000)
    with pytest.raises(SizeMismatch):
        backend.write("keep.txt", io.BytesIO(b"longer than said"), 3)
    assert get(backend, "keep.txt") == b"original"
    assert list(children(backend)) == ["keep.txt"]


def test_remove_file_and_empty_folder(backend: Backend) -> None:
    put(backend, "d/f.txt", b"x")
    backend.remove("d/f.txt")
    with pytest.raises(EntryNotFound):
        backend.stat("d/f.txt")
    backend.remove("d")
    assert list(backend.list("")) == []


def test_remove_refuses_a_folder_with_children(backend: Backend) -> None:
    put(backend, "d/f.txt", b"x")
    with pytest.raises(FolderNotEmpty):
        backend.remove("d")
    assert get(backend, "d/f.txt") == b"x"


@pytest.mark.parametrize("path", ["absent.txt", "absent/inner.txt"])
def test_missing_entries_are_not_found(backend: Backend, path: str) -> None:
    with pytest.raises(EntryNotFound):
        backend.stat(path)
    with pytest.raises(EntryNotFound):
        backend.open_read(path)
    with pytest.raises(EntryNotFound):
        backend.remove(path)
    with pytest.raises(EntryNotFound):
        list(backend.list(path))


def test_path_through_a_file_is_not_found(backend: Backend) -> None:
    put(backend, "f.txt", b"x")
    with pytest.raises(EntryNotFound):
        backend.stat("f.txt/inner")


def test_write_over_a_folder_is_refused(backend: Backend) -> None:
    put(backend, "d/inside.txt", b"x")
    with pytest.raises(EntryExists):
        put(backend, "d", b"would replace a folder")
    assert backend.stat("d").kind is EntryKind.FOLDER
    assert get(backend, "d/inside.txt") == b"x"


def test_folder_over_a_file_is_refused(backend: Backend) -> None:
    put(backend, "f.txt", b"x")
    with pytest.raises(EntryExists):
        backend.mkdir("f.txt")
    with pytest.raises(EntryExists):
        put(backend, "f.txt/inner.txt", b"y")
    assert get(backend, "f.txt") == b"x"


def test_reading_a_folder_is_refused(backend: Backend) -> None:
    backend.mkdir("d")
    with pytest.raises(StorageError):
        backend.open_read("d").read()


def test_paths_cannot_leave_the_root(backend: Backend) -> None:
    for path in ("../outside.txt", "a/../../outside.txt", "./here.txt"):
        with pytest.raises(NameRejected):
            put(backend, path, b"x")
    with pytest.raises(NameRejected):
        backend.stat("..")


def test_native_hash_matches_content(backend: Backend) -> None:
    if Capability.NATIVE_HASH not in backend.capabilities:
        pytest.skip("the backend declares no NATIVE_HASH")
    data = os.urandom(3 * MiB + 11)
    put(backend, "h.bin", data)
    hashes = backend.stat("h.bin").hashes
    assert hashes
    for kind, value in hashes.items():
        assert value == hash_stream(io.BytesIO(data), HashType(kind))


def test_symlinks_are_reported_and_never_followed(subject: Subject) -> None:
    backend = subject.backend
    if Capability.SYMLINKS not in backend.capabilities:
        pytest.skip("the backend declares no SYMLINKS")
    assert subject.make_symlink is not None, "a SYMLINKS backend's fixture makes links"
    put(backend, "real/file.txt", b"x")
    subject.make_symlink("to-file", "real/file.txt")
    subject.make_symlink("to-folder", "real")
    subject.make_symlink("to-outside", "/")
    listed = children(backend)
    for name in ("to-file", "to-folder", "to-outside"):
        assert listed[name].kind is EntryKind.SYMLINK
        assert backend.stat(name).kind is EntryKind.SYMLINK
    with pytest.raises(EntryNotFound):
        list(backend.list("to-outside"))
    with pytest.raises(EntryNotFound):
        backend.stat("to-folder/file.txt")
    with pytest.raises(StorageError):
        backend.open_read("to-file")
    backend.remove("to-folder")  # removes the link, not what it points to
    assert get(backend, "real/file.txt") == b"x"


def test_listing_a_file_is_not_found(backend: Backend) -> None:
    put(backend, "f.txt", b"x")
    with pytest.raises(EntryNotFound):
        list(backend.list("f.txt"))
