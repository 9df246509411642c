"""The ``local`` backend: a POSIX folder, typically the Isilon home-drive share mounted
over NFS or SMB, or a local archive.

Every path is walked one folder at a time from the root with ``O_NOFOLLOW``, so a
symbolic link anywhere below the root is reported as a link and never followed: a user's
link to ``/`` cannot pull the whole server into their migration. Names are kept as
``os.fsdecode`` text (``surrogateescape``), so names that are not valid UTF-8 survive.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, BinaryIO

from mobilise.storage.base import (
    Capability,
    Entry,
    EntryKind,
    EntryNotFound,
    KindMismatch,
    NameRejected,
    SizeMismatch,
    join,
)
from mobilise.storage.os_errors import translated
from mobilise.storage.paths import Parts, split_path
from mobilise.storage.streams import source_chunks, source_errors_raised
from mobilise.storage.timestamps import from_ns, to_ns

if TYPE_CHECKING:
    from mobilise.core.settings import Settings

_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK so that opening a FIFO by mistake cannot hang a scan; it has no effect on
# regular files, which are all we go on to read.
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
# Reading a file must not make it "opened recently": retention rules select on the last
# access ("not opened for six years: archive"), and a migration that refreshed every
# access time by copying would change the decisions of its own next round (its sweep
# would copy archived files into OneDrive). O_NOATIME needs the file's owner or
# CAP_FOWNER; where refused (EPERM), the read goes on without it.
_NOATIME = getattr(os, "O_NOATIME", 0)


def open_without_access_time(name: str, folder: int) -> int:
    """A source file opened for reading without touching its access time (see _NOATIME);
    every reader of a source goes through here."""
    if _NOATIME:
        try:
            return os.open(name, _READ_FLAGS | _NOATIME, dir_fd=folder)
        except PermissionError:
            pass
    return os.open(name, _READ_FLAGS, dir_fd=folder)


def entry_from_stat(path: str, result: os.stat_result) -> Entry:
    mode = result.st_mode
    if stat.S_ISREG(mode):
        kind = EntryKind.FILE
    elif stat.S_ISDIR(mode):
        kind = EntryKind.FOLDER
    elif stat.S_ISLNK(mode):
        kind = EntryKind.SYMLINK
    else:
        kind = EntryKind.SPECIAL
    return Entry(
        path=path,
        kind=kind,
        size=result.st_size if kind is EntryKind.FILE else 0,
        modified=from_ns(result.st_mtime_ns),
    )


class LocalBackend:
    name = "local"
    capabilities = frozenset({Capability.SET_TIMES, Capability.SYMLINKS, Capability.RAW_NAMES})
    time_precision = timedelta(microseconds=1)

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        durable: bool = True,
        time_precision: timedelta | None = None,
    ) -> None:
        """``root`` must be an existing folder (it may itself be reached through a link).
        ``durable`` flushes each written file and its folder to disk before reporting it
        written; turn it off only for scratch data. ``time_precision`` overrides the
        microsecond default for mounts that keep coarser times (FAT keeps 2 s)."""
        self.root = os.path.abspath(os.fsdecode(root))
        self.durable = durable
        if time_precision is not None:
            self.time_precision = time_precision
        if not os.path.isdir(self.root):
            raise EntryNotFound(f"{self.root!r}: the backend root is not a folder")

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> LocalBackend:
        """The home-drive share mount (``MOBILISE_HOME_ROOT``) unless ``root`` is given."""
        options: dict[str, Any] = {"root": settings.home_root, **overrides}
        return cls(**options)

    def __repr__(self) -> str:
        return f"LocalBackend({self.root!r})"

    @contextmanager
    def _folder(self, parts: Parts, *, create: bool = False) -> Iterator[int]:
        """A descriptor of the folder ``parts`` below the root, reached without following
        links; with ``create``, missing folders are made on the way."""
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for depth, part in enumerate(parts):
                child = self._open_child_folder(fd, part, parts[: depth + 1], create)
                os.close(fd)
                fd = child
            yield fd
        finally:
            os.close(fd)

    def open_folder(self, path: str, *, create: bool = False) -> Any:
        """A context manager giving a descriptor of folder ``path`` (made with ``create``),
        reached without following links: for engines that work on many files of one
        folder through ``dir_fd`` calls rather than a walk from the root per file."""
        return self._folder(split_path(path), create=create)

    def count_below(self, path: str) -> int:
        """How many entries that are not folders lie below folder ``path``, counted
        without building an ``Entry`` for each (planning shards of a large drive)."""
        with self._folder(split_path(path)) as fd:
            return _count_below(fd)

    def _open_child_folder(self, fd: int, part: str, parts: Parts, create: bool) -> int:
        where = join(*parts)
        with translated(where):
            try:
                return os.open(part, _FOLDER_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                with suppress(FileExistsError):  # made meanwhile by another writer
                    os.mkdir(part, dir_fd=fd)
                return os.open(part, _FOLDER_FLAGS, dir_fd=fd)
            except OSError as exc:
                if not _is_link_or_file_error(exc):
                    raise
                if create:
                    raise KindMismatch(f"{where!r}: a file or link is in the way") from exc
                raise EntryNotFound(f"{where!r}: not a folder") from exc

    def list(self, path: str) -> Iterator[Entry]:
        parts = split_path(path)
        base = join(*parts)
        with self._folder(parts) as fd, translated(base), os.scandir(fd) as children:
            for child in children:
                result = child.stat(follow_symlinks=False)
                yield entry_from_stat(join(base, child.name), result)

    def stat(self, path: str) -> Entry:
        parts = split_path(path)
        if not parts:
            with translated(""):
                return entry_from_stat("", os.stat(self.root))
        with self._folder(parts[:-1]) as fd, translated(join(*parts)):
            result = os.stat(parts[-1], dir_fd=fd, follow_symlinks=False)
        return entry_from_stat(join(*parts), result)

    def open_read(self, path: str) -> BinaryIO:
        parts = split_path(path)
        where = join(*parts)
        if not parts:
            raise KindMismatch("'': the root is a folder")
        with self._folder(parts[:-1]) as folder, translated(where):
            try:
                fd = open_without_access_time(parts[-1], folder)
            except OSError as exc:
                if _is_link_or_file_error(exc):
                    raise KindMismatch(f"{where!r}: a symbolic link, not a file") from exc
                raise
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise KindMismatch(f"{where!r}: not a file")
            os.set_blocking(fd, True)
        except BaseException:
            os.close(fd)
            raise
        return open(fd, "rb")

    def write(
        self,
        path: str,
        stream: BinaryIO,
        size: int,
        *,
        modified: datetime | None = None,
        created: datetime | None = None,
    ) -> Entry:
        parts = split_path(path)
        where = join(*parts)
        if not parts:
            raise KindMismatch("'': the root is a folder")
        name = parts[-1]
        with (
            source_errors_raised(),
            self._folder(parts[:-1], create=True) as folder,
            translated(where),
        ):
            with suppress(FileNotFoundError):
                if stat.S_ISDIR(os.stat(name, dir_fd=folder, follow_symlinks=False).st_mode):
                    raise KindMismatch(f"{where!r}: a folder is there")
            # A short hidden name of our own: the real name may already be at the length
            # limit, and a crash leaves an obviously temporary file, never a truncated one.
            partial = f".mobilise-{secrets.token_hex(8)}.partial"
            try:
                self._write_partial(folder, partial, stream, size, modified, where)
                os.replace(partial, name, src_dir_fd=folder, dst_dir_fd=folder)
            except BaseException:
                with suppress(OSError):
                    os.unlink(partial, dir_fd=folder)
                raise
            if self.durable:
                os.fsync(folder)
        return self.stat(where)

    def _write_partial(
        self,
        folder: int,
        partial: str,
        stream: BinaryIO,
        size: int,
        modified: datetime | None,
        where: str,
    ) -> None:
        fd = os.open(partial, _WRITE_FLAGS, 0o666, dir_fd=folder)
        try:
            written = 0
            for chunk in source_chunks(stream):
                written += len(chunk)
                _write_all(fd, chunk)
            if written != size:
                raise SizeMismatch(f"{where!r}: the stream held {written} bytes, not {size}")
            if self.durable:
                os.fsync(fd)
            if modified is not None:
                ns = to_ns(modified)
                os.utime(fd, ns=(ns, ns))
        finally:
            os.close(fd)

    def mkdir(self, path: str) -> Entry:
        parts = split_path(path)
        with self._folder(parts, create=True):
            pass
        return self.stat(path)

    def remove(self, path: str) -> None:
        parts = split_path(path)
        where = join(*parts)
        if not parts:
            raise NameRejected("'': the root cannot be removed")
        with self._folder(parts[:-1]) as folder, translated(where):
            mode = os.stat(parts[-1], dir_fd=folder, follow_symlinks=False).st_mode
            if stat.S_ISDIR(mode):
                os.rmdir(parts[-1], dir_fd=folder)
            else:
                os.unlink(parts[-1], dir_fd=folder)

    def set_times(self, path: str, *, modified: datetime, created: datetime | None = None) -> None:
        """Sets the modified (and access) time; a POSIX file system has no settable
        created time, so ``created`` is ignored (no ``Capability.CREATED_TIME``)."""
        parts = split_path(path)
        ns = to_ns(modified)
        if not parts:
            with translated(""):
                os.utime(self.root, ns=(ns, ns))
            return
        with self._folder(parts[:-1]) as folder, translated(join(*parts)):
            os.utime(parts[-1], ns=(ns, ns), dir_fd=folder, follow_symlinks=False)


def _count_below(fd: int) -> int:
    count = 0
    folders: list[str] = []
    with os.scandir(fd) as children:
        for child in children:  # d_type answers without a stat; links are not followed
            if child.is_dir(follow_symlinks=False):
                folders.append(child.name)
            else:
                count += 1
    for name in folders:
        try:
            child_fd = os.open(name, _FOLDER_FLAGS, dir_fd=fd)
        except OSError:
            continue  # gone meanwhile, or not listable: the walk will say why
        try:
            count += _count_below(child_fd)
        finally:
            os.close(child_fd)
    return count


def _is_link_or_file_error(exc: OSError) -> bool:
    """O_NOFOLLOW on a link gives ELOOP; O_DIRECTORY on a file gives ENOTDIR."""
    return exc.errno in (errno.ELOOP, errno.ENOTDIR)


def _write_all(fd: int, data: memoryview) -> None:
    while data:
        data = data[os.write(fd, data) :]
