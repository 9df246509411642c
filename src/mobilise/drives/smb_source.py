"""Walking a home directory over SMB (``--source smb``), into the same inventory rows.

One directory query per folder returns every child's times, size and attributes
(FILE_ID_FULL_DIRECTORY_INFORMATION), so the walk makes no call per file. The server's
names are Unicode (UTF-16 on the wire), so names are always valid text; creation times
are real ones.

Names are what the server chooses to show. By default Samba shows a name holding a
character Windows forbids as an invented 8.3 name (``A4WTMA~A.TXT``; the assessment
warns of these as ``mangled_name``). A share with ``mangled names = no`` shows names as
they are; with ``vfs objects = catia`` and Samba's private-use mappings it shows each
forbidden character as a private-use one (``:`` as U+F022), which ``map_private_names``
reads back. Samba never shows a name that is not UTF-8 (and on a catia share, stops the
listing there). docs/drives.md says which share settings see which names.

Reparse points (symlinks, junctions) are recorded as symlinks and never followed; a
folder whose file id is one of its ancestors' (a server-side link back up) is recorded
as a loop.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mobilise.drives.columns import (
    DEFAULT_BATCH_ROWS,
    DEFAULT_MAX_DEPTH,
    KIND_FILE,
    KIND_FOLDER,
    KIND_SYMLINK,
    ScanError,
    _Columns,
)

ATTRIBUTE_READONLY = 0x1
ATTRIBUTE_DIRECTORY = 0x10
ATTRIBUTE_REPARSE_POINT = 0x400
_STATUS_ACCESS_DENIED = 0xC0000022
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class SmbSource:
    """Where and as whom to reach the share (picklable, for scanning processes)."""

    server: str
    port: int = 445
    username: str | None = None
    password: str | None = None
    map_private_names: bool = False

    def session_kwargs(self, cache: dict[str, Any]) -> dict[str, Any]:
        return {"username": self.username, "password": self.password, "port": self.port,
                "connection_cache": cache}

    def unc(self, share_path: str) -> str:
        """``share/folder`` or a full UNC path, as a UNC path on this server."""
        if share_path.startswith("\\\\"):
            return share_path
        return f"\\\\{self.server}\\" + share_path.strip("/\\").replace("/", "\\")


# Samba's catia/fruit table (the Services for Mac mapping): control characters 1-31 as
# U+F001-U+F01F, and " * : < > ? \ | as U+F020-U+F027.
PRIVATE_USE_CHARACTERS: dict[int, int] = {
    **{0xF000 + c: c for c in range(1, 0x20)},
    **{0xF020 + i: ord(c) for i, c in enumerate('"*:<>?\\|')},
}


def original_name(name: str) -> str:
    """A name as stored, from the private-use characters a catia share shows for it."""
    return name.translate(PRIVATE_USE_CHARACTERS)


def _nanos(moment: datetime) -> int:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    delta = aware - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def _stat_of(info: Any) -> tuple[os.stat_result, str]:
    """An ``os.stat_result`` built from the directory entry, so rows are shaped as for a
    local scan: mode from the attributes, sizes, the three times and the file id."""
    attributes = int(info.file_attributes)
    if attributes & ATTRIBUTE_REPARSE_POINT:
        mode, kind = stat.S_IFLNK | 0o777, KIND_SYMLINK
    elif attributes & ATTRIBUTE_DIRECTORY:
        mode, kind = stat.S_IFDIR | 0o755, KIND_FOLDER
    else:
        mode, kind = stat.S_IFREG | 0o644, KIND_FILE
    if attributes & ATTRIBUTE_READONLY:
        mode &= ~0o222
    created = _nanos(info.creation_time)
    modified = _nanos(info.last_write_time)
    accessed = _nanos(info.last_access_time)
    size = int(info.end_of_file)
    st = os.stat_result(
        (mode, int(info.file_id), 0, 1, 0, 0, size, accessed // 10**9, modified // 10**9,
         created // 10**9),
        {"st_atime_ns": accessed, "st_mtime_ns": modified, "st_ctime_ns": created},
    )
    return st, kind


def _error_for(exc: OSError) -> str:
    if getattr(exc, "ntstatus", None) == _STATUS_ACCESS_DENIED or exc.errno in (
            errno.EACCES, errno.EPERM) or isinstance(exc, PermissionError):
        return ScanError.PERMISSION_DENIED
    if exc.errno == errno.ENOENT or isinstance(exc, FileNotFoundError):
        return ScanError.VANISHED
    return ScanError.UNREADABLE


def walk_smb(
    root: str,
    source: SmbSource,
    columns: _Columns,
    flush: Callable[[], None],
    *,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> None:
    """Walk the UNC path ``root`` depth-first into ``columns`` (as ``scan.walk`` does)."""
    import smbclient

    cache: dict[str, Any] = {}
    session = source.session_kwargs(cache)
    try:
        root_id = int(smbclient.stat(root, **session).st_ino)
        stack: list[tuple[str, str, int, int, int, os.stat_result | None, Any]] = [
            (root, "", -1, -1, 0, None, (root_id, None))]
        next_id = 0
        while stack:
            unc, rel_dir, dir_id, parent_id, depth, dir_st, chain = stack.pop()
            try:
                with smbclient.scandir(unc, **session) as listing:
                    # The name as the server sent it (DirEntry.name cuts at a backslash).
                    children = [(e.smb_info.file_name, e.smb_info) for e in listing]
            except OSError as exc:
                if dir_id < 0:
                    raise
                columns.add_problem(dir_id, parent_id, rel_dir, dir_st, KIND_FOLDER,
                                    _error_for(exc))
                continue
            if dir_id >= 0:
                columns.add_problem(dir_id, parent_id, rel_dir, dir_st, KIND_FOLDER, None)
            prefix_rel = rel_dir + "/" if rel_dir else ""
            for shown, info in children:
                name = original_name(shown) if source.map_private_names else shown
                st, kind = _stat_of(info)
                rel = prefix_rel + name
                if kind == KIND_FOLDER:
                    problem = _descent_problem(st, chain, depth + 1, max_depth)
                    if problem is None:
                        stack.append((unc + "\\" + shown, rel, next_id, dir_id, depth + 1, st,
                                      (st.st_ino, chain)))
                    else:
                        columns.add_problem(next_id, dir_id, rel, st, kind, problem)
                elif kind == KIND_SYMLINK:
                    columns.add_problem(next_id, dir_id, rel, st, kind, None)
                else:
                    columns.ids.append(next_id)
                    columns.parents.append(dir_id)
                    columns.paths.append(rel)
                    columns.names.append(name)
                    columns.stats.append(st)
                next_id += 1
                if len(columns) >= batch_rows:
                    flush()
        if len(columns):
            flush()
    finally:
        smbclient.reset_connection_cache(fail_on_error=False, connection_cache=cache)


def _descent_problem(st: os.stat_result, chain: Any, depth: int, max_depth: int) -> str | None:
    if depth >= max_depth:
        return ScanError.TOO_DEEP
    link = chain
    while link is not None:
        if link[0] == st.st_ino:
            return ScanError.LOOP
        link = link[1]
    return None


def list_smb_homes(source: SmbSource, share_root: str) -> list[str]:
    """The folders at the top of the home share, as UNC paths (for orphan discovery)."""
    import smbclient

    cache: dict[str, Any] = {}
    root = source.unc(share_root)
    try:
        with smbclient.scandir(root, **source.session_kwargs(cache)) as listing:
            return sorted(root.rstrip("\\") + "\\" + e.name for e in listing
                          if int(e.smb_info.file_attributes) & ATTRIBUTE_DIRECTORY
                          and not int(e.smb_info.file_attributes) & ATTRIBUTE_REPARSE_POINT)
    finally:
        smbclient.reset_connection_cache(fail_on_error=False, connection_cache=cache)
