"""A person's drive as a folder on local disk, behind the storage Backend interface, for
the disposal tests (the real local backend lives in mobilise.storage)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from mobilise.storage.base import Backend, Capability, Entry, EntryKind, EntryNotFound


class FolderDrive:
    name = "local"
    capabilities: frozenset[Capability] = frozenset()

    def __init__(self, root: Path) -> None:
        self.root = root
        self.removed: list[str] = []

    def _full(self, path: str) -> Path:
        return self.root / path

    def stat(self, path: str) -> Entry:
        try:
            st = self._full(path).stat()
        except FileNotFoundError:
            raise EntryNotFound(path) from None
        return Entry(path, EntryKind.FILE, st.st_size,
                     datetime.fromtimestamp(st.st_mtime, UTC))

    def list(self, path: str) -> Iterator[Entry]:
        for child in sorted(os.listdir(self._full(path))):
            yield self.stat(f"{path}/{child}" if path else child)

    def open_read(self, path: str) -> BinaryIO:
        try:
            return self._full(path).open("rb")
        except FileNotFoundError:
            raise EntryNotFound(path) from None

    def write(self, path: str, stream: BinaryIO, size: int, *, modified: datetime | None = None,
              created: datetime | None = None) -> Entry:
        target = self._full(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(stream.read(size))
        if modified is not None:
            os.utime(target, (modified.timestamp(), modified.timestamp()))
        return self.stat(path)

    def mkdir(self, path: str) -> Entry:
        self._full(path).mkdir(parents=True, exist_ok=True)
        return Entry(path, EntryKind.FOLDER, 0, datetime.now(UTC))

    def remove(self, path: str) -> None:
        self._full(path).unlink()
        self.removed.append(path)

    def set_times(self, path: str, *, modified: datetime, created: datetime | None = None) -> None:
        os.utime(self._full(path), (modified.timestamp(), modified.timestamp()))


def backend(root: Path) -> Backend:
    drive: Backend = FolderDrive(root)
    return drive
