"""The fast path for small files between two local folders (an H: drive share mounted
here and a local archive, or local-to-local trials and benchmarks).

Copying a small file through the general ``Copier`` costs more in Python (stream objects,
a walk from the backend root for every open, a hash object per file) than in the file
system. Here the files of a few folders are copied as a batch inside one task: each
folder is opened once on both sides and every file is reached through ``dir_fd`` calls,
read whole, written to a partial file and renamed into place, and the whole batch is
hashed at once (``quickxor_b64_many``). Large files are copied by the kernel
(``copy_file_range``). Every guarantee of the general path holds: the source is only
ever opened read-only and without following links; each copy is read back and verified
by size, modified time and quickXorHash; a source that changed while it was read is
never recorded as verified. Anything unusual (a link where a file was, a folder in the
way, an error) is handed back to the general ``Copier``, which retries and reports.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from datetime import timedelta

from mobilise.migration.files import (
    PARTIAL_PREFIX,
    PARTIAL_SUFFIX,
    SMALL_FILE,
    FileResult,
    Outcome,
    PlannedFile,
)
from mobilise.storage.base import Backend, StorageError
from mobilise.storage.local import LocalBackend, open_without_access_time
from mobilise.storage.quickxor import QuickXorHash, quickxor_b64_many
from mobilise.storage.streams import READ_SIZE
from mobilise.storage.timestamps import to_ns

_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
# A batch is the files of a few folders, at most this many and about this many bytes:
# large enough that the per-batch NumPy hash and journal write are amortised, small
# enough that progress moves and a redelivered task redoes little. Each folder of a
# batch holds two descriptors open while the batch runs.
BATCH_FILES = 500
BATCH_BYTES = 16 * 1024 * 1024
BATCH_FOLDERS = 16


@dataclass
class Folder:
    """Files that share a source folder and a destination folder."""

    source_folder: str
    dest_folder: str
    files: list[PlannedFile]


@dataclass
class Batch:
    source: LocalBackend
    destination: LocalBackend
    folders: list[Folder]

    @property
    def files(self) -> list[PlannedFile]:
        return [f for folder in self.folders for f in folder.files]

    @property
    def precision_ns(self) -> int:
        """Two modified times this close are the same time on both sides."""
        step = max(self.source.time_precision, self.destination.time_precision)
        return step // timedelta(microseconds=1) * 1000


@dataclass
class BatchResult:
    done: list[FileResult]  # copied and verified, or changed at the source
    fallback: list[PlannedFile]  # for the general copier


def fast_pair(source: Backend, destination: Backend) -> bool:
    """Both sides plain local folders. Not a subclass: one that changes how files are
    read or written (a test double, a wrapper) must be gone through, not around."""
    return type(source) is LocalBackend and type(destination) is LocalBackend


def parent(path: str) -> str:
    return path.rpartition("/")[0]


def batches(source: Backend, destinations: dict[str, Backend],
            planned: list[PlannedFile]) -> tuple[list[Batch], list[PlannedFile]]:
    """Split the copies into batches for the fast path and the rest."""
    groups: dict[tuple[str, str, str], list[PlannedFile]] = {}
    rest: list[PlannedFile] = []
    for item in planned:
        entry = item.source
        destination = destinations.get(item.target)
        if entry is None or destination is None or entry.size >= SMALL_FILE \
                or not fast_pair(source, destination):
            rest.append(item)
            continue
        key = (item.target, parent(entry.path), parent(item.dest_path))
        groups.setdefault(key, []).append(item)
    out: list[Batch] = []
    for target in sorted({key[0] for key in groups}):
        folders = [Folder(key[1], key[2], chunk) for key, files in sorted(groups.items())
                   if key[0] == target for chunk in _chunks(files)]
        out += [Batch(source, destinations[target], part)  # type: ignore[arg-type]
                for part in _packed(folders)]
    return out, rest


def _chunks(files: list[PlannedFile]) -> Iterator[list[PlannedFile]]:
    chunk: list[PlannedFile] = []
    size = 0
    for item in files:
        assert item.source is not None
        if chunk and (len(chunk) >= BATCH_FILES or size + item.source.size > BATCH_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append(item)
        size += item.source.size
    if chunk:
        yield chunk


def _packed(folders: list[Folder]) -> Iterator[list[Folder]]:
    """Folders gathered into batches of up to the limits (a folder is never split
    further than ``_chunks`` split it)."""
    part: list[Folder] = []
    files = size = 0
    for folder in folders:
        folder_size = sum(f.source.size for f in folder.files if f.source is not None)
        if part and (len(part) >= BATCH_FOLDERS or files + len(folder.files) > BATCH_FILES
                     or size + folder_size > BATCH_BYTES):
            yield part
            part, files, size = [], 0, 0
        part.append(folder)
        files += len(folder.files)
        size += folder_size
    if part:
        yield part


def copy_batch(batch: Batch, *, verify: bool = True) -> BatchResult:
    """Copy one batch; what cannot be done here goes back as ``fallback``."""
    result = BatchResult([], [])
    try:
        with ExitStack() as stack:
            opened: list[tuple[Folder, int, int]] = []
            for folder in batch.folders:
                try:
                    source_fd = stack.enter_context(
                        batch.source.open_folder(folder.source_folder))
                    dest_fd = stack.enter_context(
                        batch.destination.open_folder(folder.dest_folder, create=True))
                except (OSError, StorageError):
                    # Gone, a link, a file in the way: the general path reports each
                    # file with its own error.
                    result.fallback += folder.files
                    continue
                opened.append((folder, source_fd, dest_fd))
            _copy_files(batch, opened, verify, result)
    except OSError:
        settled = {r.path for r in result.done} | {p.path for p in result.fallback}
        result.fallback += [p for p in batch.files if p.path not in settled]
    return result


@dataclass
class _Read:
    planned: PlannedFile
    source_fd: int
    dest_fd: int
    name: str
    dest_name: str
    data: bytes
    mtime_ns: int


def _copy_files(batch: Batch, opened: list[tuple[Folder, int, int]], verify: bool,
                result: BatchResult) -> None:
    read: list[_Read] = []
    for folder, source_fd, dest_fd in opened:
        for planned in folder.files:
            outcome = _read_one(planned, source_fd, dest_fd)
            if isinstance(outcome, _Read):
                read.append(outcome)
            elif isinstance(outcome, FileResult):
                result.done.append(outcome)
            else:
                result.fallback.append(planned)
    digests = quickxor_b64_many([r.data for r in read]) if verify else [None] * len(read)
    written: list[tuple[_Read, str | None]] = []
    token = secrets.token_hex(6)
    for number, (item, digest) in enumerate(zip(read, digests, strict=True)):
        if _write_one(item, f"{PARTIAL_PREFIX}{token}{number:x}{PARTIAL_SUFFIX}",
                      batch.destination.durable):
            written.append((item, digest))
        else:
            result.fallback.append(item.planned)
    if batch.destination.durable:
        for dest_fd in {item.dest_fd for item, _ in written}:
            os.fsync(dest_fd)  # the renames, once a folder
    arrived = _read_back(written) if verify else [None] * len(written)
    precision_ns = batch.precision_ns
    for (item, digest), found in zip(written, arrived, strict=True):
        settled = _settle(item, digest, precision_ns, found)
        if settled is None:
            result.fallback.append(item.planned)
        else:
            result.done.append(settled)


def _read_one(planned: PlannedFile, source_fd: int,
              dest_fd: int) -> _Read | FileResult | None:
    entry = planned.source
    assert entry is not None
    name = entry.name
    try:
        fd = open_without_access_time(name, source_fd)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None
        if info.st_size != entry.size or info.st_mtime_ns // 1000 != to_ns(entry.modified) // 1000:
            return _changed(planned, "the source changed after it was listed; next round")
        data = os.read(fd, entry.size + 1)  # one more: a file that grew reads long
    except OSError:
        return None
    finally:
        os.close(fd)
    if len(data) != entry.size:
        return _changed(planned, "the source changed size while it was read")
    dest_name = planned.dest_path.rpartition("/")[2]
    return _Read(planned, source_fd, dest_fd, name, dest_name, data, to_ns(entry.modified))


def _write_one(item: _Read, partial: str, durable: bool) -> bool:
    dest_fd = item.dest_fd
    try:
        fd = os.open(partial, _WRITE_FLAGS, 0o666, dir_fd=dest_fd)
    except OSError:
        return False
    try:
        try:
            view = memoryview(item.data)
            while view:
                view = view[os.write(fd, view):]
            if durable:
                os.fsync(fd)
            os.utime(fd, ns=(item.mtime_ns, item.mtime_ns))
        finally:
            os.close(fd)
        os.replace(partial, item.dest_name, src_dir_fd=dest_fd, dst_dir_fd=dest_fd)
    except OSError:
        with suppress(OSError):
            os.unlink(partial, dir_fd=dest_fd)
        return False
    return True


def _read_back(written: list[tuple[_Read, str | None]]
               ) -> list[tuple[os.stat_result, str] | None]:
    """What arrived: each copy's stat and the quickXorHash of its content as stored."""
    infos: list[os.stat_result | None] = []
    contents: list[bytes] = []
    for item, _digest in written:
        try:
            fd = os.open(item.dest_name, _READ_FLAGS, dir_fd=item.dest_fd)
        except OSError:
            infos.append(None)
            continue
        try:
            info = os.fstat(fd)
            contents.append(os.read(fd, len(item.data) + 1))
            infos.append(info)
        except OSError:
            infos.append(None)
        finally:
            os.close(fd)
    hashes = iter(quickxor_b64_many(contents))
    return [None if info is None else (info, next(hashes)) for info in infos]


def _settle(item: _Read, digest: str | None, precision_ns: int,
            arrived: tuple[os.stat_result, str] | None) -> FileResult | None:
    planned = item.planned
    entry = planned.source
    assert entry is not None
    # What was read must still be what the source holds (as in the general path).
    try:
        now = os.stat(item.name, dir_fd=item.source_fd, follow_symlinks=False)
    except OSError:
        return None
    if now.st_size != entry.size or now.st_mtime_ns // 1000 != item.mtime_ns // 1000:
        return _changed(planned, "the source changed while it was copied; next round")
    if digest is None:  # unverified (benchmarks, trials): size and time only
        try:
            info = os.stat(item.dest_name, dir_fd=item.dest_fd, follow_symlinks=False)
        except OSError:
            return None
        if info.st_size != entry.size or abs(info.st_mtime_ns - item.mtime_ns) > precision_ns:
            return None
    else:
        if arrived is None:
            return None
        info, arrived_hash = arrived
        if info.st_size != entry.size or abs(info.st_mtime_ns - item.mtime_ns) > precision_ns \
                or arrived_hash != digest:
            return None  # the general copier tries again and reports what it finds
    return FileResult(entry.path, planned.dest_path, planned.target, Outcome.COPIED,
                      size=entry.size, modified=entry.modified, hash=digest, attempts=1)


def _changed(planned: PlannedFile, reason: str) -> FileResult:
    entry = planned.source
    assert entry is not None
    return FileResult(entry.path, planned.dest_path, planned.target, Outcome.SOURCE_CHANGED,
                      size=entry.size, modified=entry.modified, reason=reason, attempts=1)


# --------------------------------------------------------------------------- large files


def copy_large(source: LocalBackend, destination: LocalBackend, planned: PlannedFile, *,
               verify: bool = True) -> FileResult | None:
    """One large file copied by the kernel (``copy_file_range``: no trip through Python's
    buffers, as ``cp`` does), then, when verifying, the source and the copy each read and
    hashed. The source must be unchanged from listing to the end (size and modified
    time) for the copy to count: what was hashed is then what was copied. ``None`` hands
    the file to the general copier (anything unusual, or a file system that cannot)."""
    entry = planned.source
    assert entry is not None
    dest_folder, _, dest_name = planned.dest_path.rpartition("/")
    mtime_ns = to_ns(entry.modified)
    precision_ns = Batch(source, destination, []).precision_ns
    try:
        with source.open_folder(parent(entry.path)) as source_fd, \
                destination.open_folder(dest_folder, create=True) as dest_fd:
            fd = open_without_access_time(entry.name, source_fd)
            try:
                info = os.fstat(fd)
                if not stat.S_ISREG(info.st_mode):
                    return None
                if info.st_size != entry.size or info.st_mtime_ns // 1000 != mtime_ns // 1000:
                    return _changed(planned, "the source changed after it was listed; "
                                    "next round")
                partial = f"{PARTIAL_PREFIX}{secrets.token_hex(8)}{PARTIAL_SUFFIX}"
                if not _kernel_copy(fd, dest_fd, partial, dest_name, entry.size, mtime_ns,
                                    destination.durable):
                    return None
                digest = _hash_fd(fd) if verify else None
            finally:
                os.close(fd)
            now = os.stat(entry.name, dir_fd=source_fd, follow_symlinks=False)
            if now.st_size != entry.size or now.st_mtime_ns // 1000 != mtime_ns // 1000:
                return _changed(planned, "the source changed while it was copied; next round")
            if not _arrived(dest_fd, dest_name, entry.size, mtime_ns, precision_ns, digest):
                return None
    except (OSError, StorageError):
        return None
    return FileResult(entry.path, planned.dest_path, planned.target, Outcome.COPIED,
                      size=entry.size, modified=entry.modified, hash=digest, attempts=1)


def _kernel_copy(fd: int, dest_fd: int, partial: str, name: str, size: int, mtime_ns: int,
                 durable: bool) -> bool:
    out = os.open(partial, _WRITE_FLAGS, 0o666, dir_fd=dest_fd)
    try:
        try:
            done = 0
            while done < size:
                count = os.copy_file_range(fd, out, size - done, done, done)
                if count == 0:
                    raise OSError("the source ended early")
                done += count
            if durable:
                os.fsync(out)
            os.utime(out, ns=(mtime_ns, mtime_ns))
        finally:
            os.close(out)
        os.replace(partial, name, src_dir_fd=dest_fd, dst_dir_fd=dest_fd)
        if durable:
            os.fsync(dest_fd)
    except OSError:
        with suppress(OSError):
            os.unlink(partial, dir_fd=dest_fd)
        return False
    return True


def _hash_fd(fd: int) -> str:
    hasher = QuickXorHash()
    view = memoryview(bytearray(READ_SIZE))
    offset = 0
    while count := os.preadv(fd, [view], offset):
        hasher.update(view[:count])
        offset += count
    return hasher.b64digest()


def _arrived(dest_fd: int, name: str, size: int, mtime_ns: int, precision_ns: int,
             digest: str | None) -> bool:
    fd = os.open(name, _READ_FLAGS, dir_fd=dest_fd)
    try:
        info = os.fstat(fd)
        if info.st_size != size or abs(info.st_mtime_ns - mtime_ns) > precision_ns:
            return False
        return digest is None or _hash_fd(fd) == digest
    finally:
        os.close(fd)
