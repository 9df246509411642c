"""The storage backend interface, after rclone's: a small required core, optional
capabilities discovered at run time, and one conformance suite (tests/storage) that every
backend passes unedited.

Paths are relative to the backend's root, use ``/`` as separator and no leading slash;
``""`` is the root. Names on POSIX sources may not be valid UTF-8: a backend keeps such a
name as ``surrogateescape``-decoded text (``os.fsdecode``), so it round-trips to the same
bytes and never crashes anything; ``Entry.raw_name`` gives the bytes back.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import BinaryIO, Protocol, runtime_checkable


class EntryKind(StrEnum):
    FILE = "file"
    FOLDER = "folder"
    SYMLINK = "symlink"
    SPECIAL = "special"


class Capability(StrEnum):
    NATIVE_HASH = "native_hash"          # the backend stores a hash (onedrive: quickXorHash)
    QUOTA = "quota"                      # total / used / remaining are known
    DELTA = "delta"                      # full or incremental listing in one stream
    RESUMABLE_UPLOAD = "resumable_upload"  # an interrupted write continues across processes
    SET_TIMES = "set_times"              # modified time can be set after writing
    SYMLINKS = "symlinks"                # the backend can show symlinks as such
    RAW_NAMES = "raw_names"              # names that are not valid UTF-8 can be stored
    CREATED_TIME = "created_time"        # a created time given to write() is kept


@dataclass(frozen=True)
class Entry:
    path: str
    kind: EntryKind
    size: int
    modified: datetime
    created: datetime | None = None
    hashes: dict[str, str] = field(default_factory=dict)
    id: str | None = None

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def raw_name(self) -> bytes:
        return os.fsencode(self.name)

    @property
    def valid_utf8(self) -> bool:
        try:
            self.name.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True


@dataclass(frozen=True)
class Quota:
    total: int
    used: int
    remaining: int
    state: str = "normal"


class StorageError(Exception):
    """Base of backend errors; ``retryable`` tells engines whether to try again."""

    retryable = False


class EntryNotFound(StorageError):
    pass


class EntryExists(StorageError):
    pass


class KindMismatch(EntryExists):
    """A folder is where a file is needed, or a file (or link) where a folder is."""


class FolderNotEmpty(StorageError):
    """``remove`` of a folder that still has children."""


class SizeMismatch(StorageError):
    """The stream given to ``write`` did not hold ``size`` bytes; nothing was written.
    Usually the source changed while it was read, so trying again is reasonable."""

    retryable = True


class NameRejected(StorageError):
    """The destination refuses the name or path (invalid, reserved, too long)."""


class QuotaExceeded(StorageError):
    pass


class AccessDenied(StorageError):
    pass


class TransientError(StorageError):
    retryable = True


@runtime_checkable
class Backend(Protocol):
    """What every backend must do. Optional extras are announced in ``capabilities``;
    what a backend cannot do is the absence of a capability, so callers (and the
    conformance suite) ask rather than knowing backends by name.

    Errors are ``StorageError`` subclasses: a missing path is ``EntryNotFound``, a path
    held by the other kind of entry is ``KindMismatch``.
    """

    name: str
    capabilities: frozenset[Capability]
    # The coarsest step of the modified times the backend keeps: two times closer than
    # this are the same time (a sync must not copy a file again because of rounding).
    time_precision: timedelta

    def list(self, path: str) -> Iterator[Entry]:
        """The direct children of folder ``path``, in no particular order."""
        ...

    def stat(self, path: str) -> Entry:
        """The entry at ``path`` (``""`` is the root folder); symlinks are not followed."""
        ...

    def open_read(self, path: str) -> BinaryIO:
        """A stream of the file's content; the caller closes it."""
        ...

    def write(
        self,
        path: str,
        stream: BinaryIO,
        size: int,
        *,
        modified: datetime | None = None,
        created: datetime | None = None,
    ) -> Entry:
        """Write a whole file from ``stream`` (``size`` bytes), replacing any file there,
        creating missing parent folders, and setting the timestamps given. Readers never
        see a partly written file; if the stream does not hold exactly ``size`` bytes,
        ``SizeMismatch`` is raised and the destination is left as it was."""
        ...

    def mkdir(self, path: str) -> Entry:
        """Create folder ``path`` and missing parents; an existing folder is fine."""
        ...

    def remove(self, path: str) -> None:
        """Remove a file or an empty folder."""
        ...

    def set_times(
        self, path: str, *, modified: datetime, created: datetime | None = None
    ) -> None:
        """Change the times of an existing entry (needs ``Capability.SET_TIMES``)."""
        ...


def join(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))
