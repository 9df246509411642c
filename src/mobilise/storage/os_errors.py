"""One translation of operating-system errors into storage errors, shared by the backends
whose libraries raise ``OSError`` (the local file system, and smbprotocol, whose
``SMBOSError`` carries the matching errno)."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager

from mobilise.storage.base import (
    AccessDenied,
    EntryExists,
    EntryNotFound,
    FolderNotEmpty,
    KindMismatch,
    NameRejected,
    QuotaExceeded,
    StorageError,
    TransientError,
)

_BY_ERRNO: dict[int, type[StorageError]] = {
    errno.ENOENT: EntryNotFound,
    # A file where a folder should be in the middle of the path: nothing is there.
    errno.ENOTDIR: EntryNotFound,
    errno.EEXIST: EntryExists,
    errno.EISDIR: KindMismatch,
    errno.ENOTEMPTY: FolderNotEmpty,
    errno.EACCES: AccessDenied,
    errno.EPERM: AccessDenied,
    errno.EROFS: AccessDenied,
    errno.ENAMETOOLONG: NameRejected,
    errno.EILSEQ: NameRejected,
    errno.EINVAL: NameRejected,
    errno.ENOSPC: QuotaExceeded,
    errno.EDQUOT: QuotaExceeded,
    errno.EFBIG: QuotaExceeded,
    # NFS and SMB mounts of the share hiccup; these are worth another try.
    errno.EIO: TransientError,
    errno.ESTALE: TransientError,
    errno.EAGAIN: TransientError,
    errno.EINTR: TransientError,
    errno.ETIMEDOUT: TransientError,
    errno.ECONNRESET: TransientError,
    errno.ECONNABORTED: TransientError,
    errno.EHOSTUNREACH: TransientError,
    errno.ENETUNREACH: TransientError,
}


def storage_error(exc: OSError, path: str) -> StorageError:
    kind = _BY_ERRNO.get(exc.errno or 0, StorageError)
    reason = exc.strerror or str(exc)
    return kind(f"{path!r}: {reason}")


@contextmanager
def translated(path: str) -> Iterator[None]:
    """Raise ``OSError`` from the block as the matching ``StorageError``."""
    try:
        yield
    except OSError as exc:
        raise storage_error(exc, path) from exc
    except ValueError as exc:  # an embedded NUL, which no file system accepts
        raise NameRejected(f"{path!r}: {exc}") from exc
