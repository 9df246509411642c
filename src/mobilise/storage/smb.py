"""The ``smb`` backend: a share read and written over SMB2/3 with smbprotocol, without a
mount (the Isilon home-drive share, or any Windows or Samba server).

What SMB cannot hold, and is therefore refused with ``NameRejected`` before any request:
names that are not valid Unicode (SMB names are UTF-16, so there is no ``RAW_NAMES``),
and names with ``\\ : * ? " < > |`` or control characters (``:`` would even address an
alternate data stream). Servers resolve symbolic links themselves, so links are not shown
as such (no ``SYMLINKS``); a reparse point the server does expose is reported as a link.
"""

from __future__ import annotations

import builtins
import errno
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, BinaryIO

import smbclient

# smbclient's public functions cover almost everything; setting the created time and a
# rename that works on Samba need the building blocks those functions are made of.
from smbclient._io import SMBFileTransaction, SMBRawIO, set_info
from smbclient._os import _set_basic_information
from smbprotocol.exceptions import (
    SMBAuthenticationError,
    SMBException,
    SMBOSError,
    SMBResponseException,
)
from smbprotocol.file_info import FileAttributes, FileRenameInformation
from smbprotocol.header import NtStatus
from smbprotocol.open import CreateOptions, FilePipePrinterAccessMask

from mobilise.core.errors import InvalidInput
from mobilise.storage.base import (
    AccessDenied,
    Capability,
    Entry,
    EntryKind,
    EntryNotFound,
    KindMismatch,
    NameRejected,
    QuotaExceeded,
    SizeMismatch,
    StorageError,
    TransientError,
    join,
)
from mobilise.storage.os_errors import storage_error
from mobilise.storage.paths import Parts, split_path
from mobilise.storage.streams import source_chunks, source_errors_raised
from mobilise.storage.timestamps import from_ns, to_ns

if TYPE_CHECKING:
    from mobilise.core.settings import Settings

# FILETIME counts 100 ns steps from 1601-01-01; this is the Unix epoch in those units.
_EPOCH_FILETIME = 116_444_736_000_000_000
_FORBIDDEN = set('\\:*?"<>|') | {chr(c) for c in range(32)} | {"\x7f"}

# NT statuses in the storage vocabulary, where smbprotocol's errno says too little.
_BY_STATUS: dict[int, type[StorageError]] = {
    NtStatus.STATUS_OBJECT_NAME_INVALID: NameRejected,
    NtStatus.STATUS_OBJECT_PATH_SYNTAX_BAD: NameRejected,
    NtStatus.STATUS_OBJECT_PATH_INVALID: NameRejected,
    NtStatus.STATUS_ACCESS_DENIED: AccessDenied,
    NtStatus.STATUS_LOGON_FAILURE: AccessDenied,
    NtStatus.STATUS_WRONG_PASSWORD: AccessDenied,
    NtStatus.STATUS_PASSWORD_EXPIRED: AccessDenied,
    NtStatus.STATUS_BAD_NETWORK_NAME: EntryNotFound,  # no such share
    NtStatus.STATUS_DISK_FULL: QuotaExceeded,
    NtStatus.STATUS_SHARING_VIOLATION: TransientError,  # someone has the file open
    NtStatus.STATUS_DELETE_PENDING: TransientError,
    NtStatus.STATUS_IO_TIMEOUT: TransientError,
    NtStatus.STATUS_INSUFFICIENT_RESOURCES: TransientError,
    NtStatus.STATUS_INSUFF_SERVER_RESOURCES: TransientError,
    NtStatus.STATUS_NETWORK_NAME_DELETED: TransientError,
    NtStatus.STATUS_USER_SESSION_DELETED: TransientError,
}


def _filetime(moment: datetime) -> int:
    return to_ns(moment) // 100 + _EPOCH_FILETIME


def check_name(name: str, path: str) -> None:
    if _FORBIDDEN.intersection(name):
        raise NameRejected(f'{path!r}: SMB names cannot hold \\ : * ? " < > | or controls')
    try:
        name.encode("utf-16-le")
    except UnicodeEncodeError as exc:
        raise NameRejected(f"{path!r}: not valid Unicode, which SMB names must be") from exc


@contextmanager
def translated(path: str) -> Iterator[None]:
    try:
        yield
    except SMBOSError as exc:
        kind = _BY_STATUS.get(exc.ntstatus)
        raise (kind(f"{path!r}: {exc.strerror}") if kind else storage_error(exc, path)) from exc
    except SMBAuthenticationError as exc:
        raise AccessDenied(f"{path!r}: {exc}") from exc
    except SMBResponseException as exc:
        raise _BY_STATUS.get(exc.status, StorageError)(f"{path!r}: {exc}") from exc
    except OSError as exc:  # sockets: resets, refusals, timeouts
        raise storage_error(exc, path) from exc
    except SMBException as exc:  # connection closed and other protocol-level failures
        raise TransientError(f"{path!r}: {exc}") from exc


class SmbBackend:
    name = "smb"
    capabilities = frozenset({Capability.SET_TIMES, Capability.CREATED_TIME})
    # SMB keeps times in 100 ns steps; ``Entry`` holds microseconds.
    time_precision = timedelta(microseconds=1)

    def __init__(
        self,
        server: str,
        share: str,
        username: str,
        password: str,
        port: int = 445,
        root: str = "",
        *,
        encrypt: bool | None = None,
        connection_timeout: int = 60,
    ) -> None:
        self.server, self.share, self.port = server, share, port
        self.root_parts = split_path(root)
        for depth, part in enumerate(self.root_parts):
            check_name(part, join(*self.root_parts[: depth + 1]))
        # A cache of our own, so close() drops exactly this backend's connections.
        self._cache: dict[str, Any] = {}
        self._session: dict[str, Any] = {
            "username": username,
            "password": password,
            "port": port,
            "connection_cache": self._cache,
        }
        with translated(""):
            smbclient.register_session(
                server,
                username=username,
                password=password,
                port=port,
                encrypt=encrypt,
                connection_timeout=connection_timeout,
                connection_cache=self._cache,
            )

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> SmbBackend:
        """From ``MOBILISE_SMB_SERVER``, ``_PORT``, ``_SHARE``, ``_USERNAME`` and
        ``_PASSWORD``; keyword ``overrides`` (e.g. ``root``) win."""
        password = settings.smb_password.get_secret_value() if settings.smb_password else None
        options: dict[str, Any] = {
            "server": settings.smb_server,
            "port": settings.smb_port,
            "share": settings.smb_share,
            "username": settings.smb_username,
            "password": password,
            **overrides,
        }
        unset = [f"MOBILISE_SMB_{key.upper()}" for key, value in options.items() if value is None]
        if unset:
            raise InvalidInput(f"the smb backend needs {', '.join(unset)}")
        return cls(**options)

    def __repr__(self) -> str:
        root = "/".join(self.root_parts)
        return f"SmbBackend(//{self.server}:{self.port}/{self.share}/{root})"

    def close(self) -> None:
        smbclient.reset_connection_cache(connection_cache=self._cache)

    def __enter__(self) -> SmbBackend:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _parts(self, path: str) -> Parts:
        parts = split_path(path)
        for depth, part in enumerate(parts):
            check_name(part, join(*parts[: depth + 1]))
        return parts

    def _unc(self, parts: Parts) -> str:
        return "\\".join([f"\\\\{self.server}", self.share, *self.root_parts, *parts])

    def _entry(self, path: str, result: Any) -> Entry:
        mode = result.st_mode
        if stat.S_ISLNK(mode):
            kind = EntryKind.SYMLINK
        elif stat.S_ISDIR(mode):
            kind = EntryKind.FOLDER
        else:
            kind = EntryKind.FILE
        return Entry(
            path=path,
            kind=kind,
            size=result.st_size if kind is EntryKind.FILE else 0,
            modified=from_ns(result.st_mtime_ns),
            created=from_ns(result.st_ctime_ns),  # smbclient's ctime is the creation time
        )

    def list(self, path: str) -> Iterator[Entry]:
        parts = self._parts(path)
        base = join(*parts)
        # No stat first: opening a file as a directory fails with STATUS_NOT_A_DIRECTORY
        # (EntryNotFound), and a scan of millions of folders saves a round trip on each.
        with translated(base), smbclient.scandir(self._unc(parts), **self._session) as children:
            for child in children:
                yield self._child_entry(base, child)

    def _child_entry(self, base: str, child: Any) -> Entry:
        info = child.smb_info
        attributes = info.file_attributes
        if attributes & FileAttributes.FILE_ATTRIBUTE_REPARSE_POINT:
            # Only a reparse point needs the extra round trip to tell a link apart.
            return self._entry(join(base, child.name), child.stat(follow_symlinks=False))
        is_folder = attributes & FileAttributes.FILE_ATTRIBUTE_DIRECTORY
        return Entry(
            path=join(base, child.name),
            kind=EntryKind.FOLDER if is_folder else EntryKind.FILE,
            size=0 if is_folder else info.end_of_file,
            modified=info.last_write_time,
            created=info.creation_time,
        )

    def stat(self, path: str) -> Entry:
        parts = self._parts(path)
        with translated(join(*parts)):
            return self._stat_parts(parts)

    def _stat_parts(self, parts: Parts) -> Entry:
        result = smbclient.stat(self._unc(parts), follow_symlinks=False, **self._session)
        return self._entry(join(*parts), result)

    def open_read(self, path: str) -> BinaryIO:
        parts = self._parts(path)
        with translated(join(*parts)):
            stream: BinaryIO = smbclient.open_file(
                self._unc(parts), mode="rb", share_access="r", **self._session
            )
            return stream

    def write(
        self,
        path: str,
        stream: BinaryIO,
        size: int,
        *,
        modified: datetime | None = None,
        created: datetime | None = None,
    ) -> Entry:
        parts = self._parts(path)
        where = join(*parts)
        if not parts:
            raise KindMismatch("'': the root is a folder")
        with source_errors_raised(), translated(where):
            self._make_folders(parts[:-1])
            with suppress(EntryNotFound), translated(where):
                if self._stat_parts(parts).kind is EntryKind.FOLDER:
                    raise KindMismatch(f"{where!r}: a folder is there")
            partial = [*parts[:-1], f".mobilise-{secrets.token_hex(8)}.partial"]
            try:
                self._write_partial(partial, stream, size, where)
                self._set_times(partial, modified, created)
                self._replace(partial, parts)
            except BaseException:
                with suppress(SMBException, OSError):
                    smbclient.remove(self._unc(partial), **self._session)
                raise
            return self._stat_parts(parts)

    def _write_partial(self, partial: Parts, stream: BinaryIO, size: int, where: str) -> None:
        written = 0
        with smbclient.open_file(self._unc(partial), mode="xb", **self._session) as out:
            for chunk in source_chunks(stream):
                written += len(chunk)
                out.write(chunk)
        if written != size:
            raise SizeMismatch(f"{where!r}: the stream held {written} bytes, not {size}")

    def _replace(self, source: Parts, target: Parts) -> None:
        """Rename ``source`` over ``target`` in one SMB request. (smbclient.replace first
        opens the target for FILE_EXECUTE, which Samba refuses on files without an x bit.)
        """
        source_raw = SMBRawIO(
            self._unc(source),
            mode="r",
            share_access="rwd",
            desired_access=FilePipePrinterAccessMask.DELETE,
            create_options=CreateOptions.FILE_OPEN_REPARSE_POINT,
            **self._session,
        )
        with source_raw, SMBFileTransaction(source_raw) as transaction:
            rename = FileRenameInformation()
            rename["replace_if_exists"] = True
            # Names in a rename are relative to the share, not to the backend's root.
            rename["file_name"] = "\\".join([*self.root_parts, *target])
            set_info(transaction, rename)

    def _set_times(self, parts: Parts, modified: datetime | None, created: datetime | None) -> None:
        # Set after the writing handle is closed, so closing it cannot bump the time; a
        # zero leaves that time as it is.
        if modified is None and created is None:
            return
        write_time = _filetime(modified) if modified else 0
        _set_basic_information(
            self._unc(parts),
            creation_time=_filetime(created) if created else 0,
            last_access_time=write_time,
            last_write_time=write_time,
            follow_symlinks=False,
            **self._session,
        )

    def _make_folders(self, parts: Parts) -> None:
        """Make ``parts`` and its missing parents, checking from the deepest up so an
        existing folder costs one round trip."""
        missing: builtins.list[Parts] = []
        for depth in range(len(parts), 0, -1):
            try:
                found = self._stat_parts(parts[:depth])
            except SMBOSError as exc:
                if exc.errno != errno.ENOENT:
                    raise
                missing.append(parts[:depth])
                continue
            if found.kind is not EntryKind.FOLDER:
                raise KindMismatch(f"{join(*parts[:depth])!r}: a file is in the way")
            break
        for folder in reversed(missing):
            try:
                smbclient.mkdir(self._unc(folder), **self._session)
            except SMBOSError as exc:
                # Made meanwhile by another writer is fine; anything else in the way is not.
                if exc.ntstatus != NtStatus.STATUS_OBJECT_NAME_COLLISION:
                    raise
                if self._stat_parts(folder).kind is not EntryKind.FOLDER:
                    raise KindMismatch(f"{join(*folder)!r}: a file is in the way") from exc

    def mkdir(self, path: str) -> Entry:
        parts = self._parts(path)
        with translated(join(*parts)):
            self._make_folders(parts)
            return self._stat_parts(parts)

    def remove(self, path: str) -> None:
        parts = self._parts(path)
        where = join(*parts)
        if not parts:
            raise NameRejected("'': the root cannot be removed")
        with translated(where):
            if self._stat_parts(parts).kind is EntryKind.FOLDER:
                smbclient.rmdir(self._unc(parts), **self._session)
            else:
                smbclient.remove(self._unc(parts), **self._session)

    def set_times(self, path: str, *, modified: datetime, created: datetime | None = None) -> None:
        parts = self._parts(path)
        with translated(join(*parts)):
            self._set_times(parts, modified, created)
