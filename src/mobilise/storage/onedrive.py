"""The ``onedrive`` backend: one person's OneDrive for Business through Microsoft Graph.

- The drive is found by UPN (``/users/{upn}/drive``); a 404 there means the OneDrive is not
  provisioned yet (``DriveNotProvisioned``).
- Small files without timestamps go up in one PUT. Everything else goes through an upload
  session, because ``fileSystemInfo`` can only be set when the item is created there (a
  later PATCH makes an extra version that counts against quota).
- Upload sessions are journalled: the ``uploadUrl`` is written to the upload journal before
  the first fragment, keyed by drive, path, size and modified time. After a crash the next
  write of the same file asks the server for ``nextExpectedRanges`` and sends only what is
  missing; a 416 means the fragment was already received (ask again), a 404 means the
  session is gone (start again, unless the file turns out to be complete).
- The quickXorHash is computed over every byte read from the source, including bytes
  skipped on resume, and compared with the one the server reports (``HashMismatch``).
- A 409 or 507 at the last fragment leaves the session on the server until it expires
  (Microsoft's "Handle upload errors"): the journal keeps it, and the next write of the
  same file commits it with a PUT carrying ``@microsoft.graph.sourceUrl`` instead of
  sending the bytes again.
- ``list_all`` and ``delta`` enumerate the drive through ``/root/delta``; a delta token is
  the ``@odata.deltaLink`` itself, followed verbatim, and a 410 restarts from the
  ``Location`` Graph sends with it.
- Graph's errors are mapped to the storage contract's at this boundary (the Graph client
  knows nothing of storage): each raised error is both, e.g. ``ItemNotFound`` and
  ``EntryNotFound``.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import os
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO, ParamSpec, TypeVar, cast
from urllib.parse import quote

from mobilise.core.errors import ExternalServiceError, InvalidInput
from mobilise.core.settings import Settings
from mobilise.graph import (
    AccessDenied,
    DriveNotProvisioned,
    GraphClient,
    GraphError,
    InvalidName,
    InvalidRange,
    InvalidRequest,
    ItemNotFound,
    NameExists,
    PathTooLong,
    QuotaExceeded,
    ResyncRequired,
    ServiceFailed,
    UploadSessionNotFound,
)
from mobilise.storage import base as storage
from mobilise.storage.base import (
    Capability,
    Entry,
    EntryExists,
    EntryKind,
    EntryNotFound,
    FolderNotEmpty,
    NameRejected,
    Quota,
    SizeMismatch,
    StorageError,
    TransientError,
    join,
)
from mobilise.storage.quickxor import QuickXorHash

HASH_NAME = "quickxor"
FRAGMENT_UNIT = 320 * 1024
MAX_FRAGMENT = 60 * 1024 * 1024
LIST_PAGE = 1000


class HashMismatch(ExternalServiceError, TransientError):
    """The server's quickXorHash differs from the one computed while reading the source."""


# Graph's errors and the storage contract's, most specific first.
_STORAGE_KINDS: tuple[tuple[type[GraphError], type[StorageError]], ...] = (
    (InvalidName, NameRejected), (PathTooLong, NameRejected), (NameExists, EntryExists),
    (DriveNotProvisioned, StorageError), (ItemNotFound, EntryNotFound),
    (AccessDenied, storage.AccessDenied), (QuotaExceeded, storage.QuotaExceeded),
    (ServiceFailed, TransientError), (GraphError, StorageError),
)


_TWINS: dict[tuple[type[GraphError], type[StorageError]], type[GraphError]] = {}


def _both(graph_cls: type[GraphError], storage_cls: type[StorageError]) -> type[GraphError]:
    key = (graph_cls, storage_cls)
    if key not in _TWINS:
        _TWINS[key] = type(f"OneDrive{graph_cls.__name__}", key, {})
    return _TWINS[key]


def as_storage_error(exc: GraphError) -> GraphError:
    """The same error, also an instance of the storage contract's matching class."""
    if isinstance(exc, StorageError):
        return exc
    storage_cls = next(s for g, s in _STORAGE_KINDS if isinstance(exc, g))
    mapped = _both(type(exc), storage_cls)
    twin = mapped.__new__(mapped)
    twin.__dict__.update(exc.__dict__)
    twin.args = exc.args
    return twin


P = ParamSpec("P")
R = TypeVar("R")


def _storage_errors(method: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(method)
    def mapped(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except GraphError as exc:
            raise as_storage_error(exc) from exc
    return mapped


def _storage_errors_iter(method: Callable[P, Iterator[R]]) -> Callable[P, Iterator[R]]:
    @functools.wraps(method)
    def mapped(*args: P.args, **kwargs: P.kwargs) -> Iterator[R]:
        try:
            yield from method(*args, **kwargs)
        except GraphError as exc:
            raise as_storage_error(exc) from exc
    return mapped


def _utc(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _file_system_info(modified: datetime | None, created: datetime | None) -> dict[str, str]:
    info = {}
    if created is not None:
        info["createdDateTime"] = _utc(created)
    if modified is not None:
        info["lastModifiedDateTime"] = _utc(modified)
    return info


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _split(path: str) -> tuple[str, str]:
    parent, _, name = path.rpartition("/")
    return parent, name


def _quote_path(path: str) -> str:
    if any(segment in ("", ".", "..") for segment in path.split("/")):
        raise NameRejected(f"{path!r} is not a plain relative path")
    try:
        return "/".join(quote(segment, safe="") for segment in path.split("/"))
    except UnicodeEncodeError as exc:
        raise NameRejected(f"{path!r} is not valid UTF-8; OneDrive names must be") from exc


def read_exactly(stream: BinaryIO, size: int) -> bytes:
    """``size`` bytes, or fewer only at the end of the stream: a network body may hand
    out less than asked on each read."""
    parts: list[bytes] = []
    wanted = size
    while wanted > 0:
        chunk = stream.read(wanted)
        if not chunk:
            break
        parts.append(chunk)
        wanted -= len(chunk)
    return b"".join(parts)


def first_expected(ranges: list[str]) -> int | None:
    """The lowest start among ``nextExpectedRanges`` ("s-e" or "s-"); None if empty."""
    starts = [int(r.split("-", 1)[0]) for r in ranges if r and r[0].isdigit()]
    return min(starts) if starts else None


class UploadJournal:
    """Unfinished upload sessions, one small JSON file each, so that a later process can
    resume them. Only a convenience: losing it costs a fresh upload, never data."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def key(drive_id: str, path: str, size: int, modified: datetime | None) -> str:
        stamp = _utc(modified) if modified is not None else "-"
        raw = json.dumps([drive_id, path, size, stamp], ensure_ascii=True)
        return hashlib.sha256(raw.encode()).hexdigest()

    def _file(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def load(self, key: str) -> dict[str, Any] | None:
        try:
            value = json.loads(self._file(key).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return value if isinstance(value, dict) else None

    def save(self, key: str, record: dict[str, Any]) -> None:
        tmp = self._file(key).with_suffix(f".{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(record))
        os.replace(tmp, self._file(key))

    def forget(self, key: str) -> None:
        self._file(key).unlink(missing_ok=True)

    def pending(self) -> list[dict[str, Any]]:
        records = []
        for file in sorted(self.folder.glob("*.json")):
            record = self.load(file.stem)
            if record is not None:
                records.append(record)
        return records


@dataclass
class DeltaListing:
    entries: list[Entry]
    removed: list[str]          # ids of items deleted since the token
    token: str                  # the deltaLink: pass to the next ``delta`` call
    ids: dict[str, str] = field(default_factory=dict)   # id -> path of what was seen
    # The token had expired (410 resyncRequired): this is a full enumeration, and anything
    # not in it is gone.
    resynced: bool = False


@dataclass
class _Upload:
    """One file going up through a session."""

    path: str
    parent_id: str
    name: str
    stream: BinaryIO
    size: int
    modified: datetime | None
    created: datetime | None
    digest: QuickXorHash = field(default_factory=QuickXorHash)
    position: int = 0           # bytes read from the stream (and hashed)


class OneDriveBackend:
    name = "onedrive"
    capabilities = frozenset({Capability.NATIVE_HASH, Capability.QUOTA, Capability.DELTA,
                              Capability.RESUMABLE_UPLOAD, Capability.CREATED_TIME})
    hash_name = HASH_NAME
    # fileSystemInfo times are kept to the second.
    time_precision = timedelta(seconds=1)

    def __init__(self, client: GraphClient, upn: str, *, journal_dir: Path,
                 simple_upload_limit: int | None = None,
                 fragment_size: int | None = None) -> None:
        settings = client.settings
        self.client = client
        self.upn = upn
        self.journal = UploadJournal(journal_dir)
        self.simple_upload_limit = (settings.graph_simple_upload_limit
                                    if simple_upload_limit is None else simple_upload_limit)
        self.fragment_size = fragment_size or settings.graph_fragment_size
        if self.fragment_size % FRAGMENT_UNIT or not 0 < self.fragment_size < MAX_FRAGMENT:
            raise ValueError("fragment size must be a multiple of 320 KiB and under 60 MiB")
        self._lock = threading.Lock()
        self._drive: dict[str, Any] | None = None
        self._folders: dict[str, str] = {}

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> OneDriveBackend:
        """The OneDrive of ``upn`` (required) through a client on the process's pacer;
        the upload journal lives under ``MOBILISE_DATA_DIR/upload-journal``."""
        upn = overrides.pop("upn", None)
        if not upn:
            raise InvalidInput("the onedrive backend needs the person's UPN (upn=...)")
        client = overrides.pop("client", None) or GraphClient(settings)
        journal = overrides.pop("journal_dir", settings.data_dir / "upload-journal")
        options: dict[str, Any] = {
            "simple_upload_limit": settings.graph_simple_upload_limit,
            "fragment_size": settings.graph_fragment_size, **overrides}
        return cls(client, str(upn), journal_dir=Path(journal), **options)

    def __repr__(self) -> str:
        return f"OneDriveBackend({self.upn!r})"

    # --- addressing -------------------------------------------------------------------
    @property
    def drive_id(self) -> str:
        return str(self.drive()["id"])

    @_storage_errors
    def drive(self, refresh: bool = False) -> dict[str, Any]:
        with self._lock:
            if self._drive is None or refresh:
                try:
                    self._drive = self.client.get_json(f"users/{quote(self.upn)}/drive")
                except ItemNotFound as exc:
                    raise DriveNotProvisioned(
                        f"the OneDrive of {self.upn} is not provisioned",
                        http_status=exc.http_status, code=exc.code,
                        inner_codes=exc.inner_codes, request_id=exc.request_id) from exc
            return self._drive

    def _by_path(self, path: str, suffix: str = "") -> str:
        if not path:
            return f"drives/{self.drive_id}/root{suffix}"
        return f"drives/{self.drive_id}/root:/{_quote_path(path)}:{suffix}"

    def _by_id(self, item_id: str, suffix: str = "") -> str:
        return f"drives/{self.drive_id}/items/{item_id}{suffix}"

    def _entry(self, path: str, item: dict[str, Any]) -> Entry:
        info = item.get("fileSystemInfo") or {}
        modified = _parse_time(info.get("lastModifiedDateTime")
                               or item.get("lastModifiedDateTime"))
        created = _parse_time(info.get("createdDateTime") or item.get("createdDateTime"))
        hashes = ((item.get("file") or {}).get("hashes") or {})
        qxh = hashes.get("quickXorHash")
        return Entry(
            path=path,
            kind=EntryKind.FOLDER if "folder" in item else EntryKind.FILE,
            size=int(item.get("size", 0)),
            modified=modified or datetime.fromtimestamp(0, UTC),
            created=created,
            hashes={HASH_NAME: qxh} if qxh else {},
            id=str(item["id"]),
        )

    # --- reading ----------------------------------------------------------------------
    @_storage_errors_iter
    def list(self, path: str) -> Iterator[Entry]:
        pages = self.client.items(self._by_path(path, "/children"), params={"$top": LIST_PAGE})
        try:
            first = next(pages, None)
        except InvalidRequest as exc:
            # Graph refuses /children of a file; to the Backend contract it is no folder.
            if self.stat(path).kind is EntryKind.FILE:
                raise EntryNotFound(f"{path!r} is a file, not a folder") from exc
            raise
        if first is not None:
            yield self._entry(join(path, first["name"]), first)
        for item in pages:
            yield self._entry(join(path, item["name"]), item)

    @_storage_errors
    def stat(self, path: str) -> Entry:
        return self._entry(path, self.client.get_json(self._by_path(path)))

    @_storage_errors
    def open_read(self, path: str) -> BinaryIO:
        sink = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)  # noqa: SIM115
        self.client.download(self._by_path(path, "/content"), sink)
        sink.seek(0)
        return cast(BinaryIO, sink)

    @_storage_errors
    def quota(self) -> Quota:
        quota = self.drive(refresh=True).get("quota") or {}
        return Quota(total=int(quota.get("total", 0)), used=int(quota.get("used", 0)),
                     remaining=int(quota.get("remaining", 0)),
                     state=str(quota.get("state", "normal")))

    # --- folders ----------------------------------------------------------------------
    @_storage_errors
    def mkdir(self, path: str) -> Entry:
        self._ensure_folder(path)
        return self.stat(path)

    def _ensure_folder(self, path: str) -> str:
        with self._lock:
            known = self._folders.get(path)
        if known is not None:
            return known
        try:
            item = self.client.get_json(self._by_path(path))
        except ItemNotFound:
            if not path:
                raise
            item = self._create_folder(path)
        if "folder" not in item:
            raise EntryExists(f"{path!r} is a file, not a folder")
        with self._lock:
            self._folders[path] = str(item["id"])
        return str(item["id"])

    def _create_folder(self, path: str) -> dict[str, Any]:
        parent, name = _split(path)
        parent_id = self._ensure_folder(parent)
        body = {"name": name, "folder": {}, "@microsoft.graph.conflictBehavior": "fail"}
        try:
            return self.client.send_json("POST", self._by_id(parent_id, "/children"), body)
        except NameExists:
            # Another worker made it, or our own POST succeeded before its answer was cut.
            return self.client.get_json(self._by_path(path))

    @_storage_errors
    def remove(self, path: str) -> None:
        item = self.client.get_json(self._by_path(path))
        if int((item.get("folder") or {}).get("childCount", 0)):
            raise FolderNotEmpty(f"{path!r} is not empty")
        with contextlib.suppress(ItemNotFound):  # a retried DELETE that had succeeded
            self.client.request("DELETE", self._by_id(str(item["id"])))
        with self._lock:
            for known in [p for p in self._folders if p == path or p.startswith(path + "/")]:
                del self._folders[known]

    @_storage_errors
    def set_times(self, path: str, *, modified: datetime,
                  created: datetime | None = None) -> None:
        info = {"lastModifiedDateTime": _utc(modified)}
        if created is not None:
            info["createdDateTime"] = _utc(created)
        self.client.send_json("PATCH", self._by_path(path), {"fileSystemInfo": info})

    # --- writing ----------------------------------------------------------------------
    @_storage_errors
    def write(self, path: str, stream: BinaryIO, size: int, *,
              modified: datetime | None = None, created: datetime | None = None) -> Entry:
        parent, name = _split(path)
        _quote_path(path)
        for attempt in (0, 1):
            parent_id = self._ensure_folder(parent)
            try:
                if size == 0 or (size <= self.simple_upload_limit and modified is None
                                 and created is None):
                    item, digest = self._simple_upload(path, parent_id, name, stream, size)
                    if size == 0 and (modified is not None or created is not None):
                        # An upload session cannot carry zero bytes; PATCH is the only way.
                        item = self.client.send_json("PATCH", self._by_id(str(item["id"])), {
                            "fileSystemInfo": _file_system_info(modified, created)})
                else:
                    self._refuse_folder(path)
                    upload = _Upload(path, parent_id, name, stream, size, modified, created)
                    item = self._session_upload(upload)
                    digest = upload.digest.b64digest()
                break
            except ItemNotFound as exc:
                if isinstance(exc, UploadSessionNotFound) or attempt:
                    raise
                # The cached parent folder was removed behind our back: find it again.
                with self._lock:
                    self._folders.clear()
                stream.seek(0)
        return self._verified(path, item, digest, size)

    def _refuse_folder(self, path: str) -> None:
        """Graph's "replace" would swap a folder (and everything in it) for the file; the
        Backend contract says writing over a folder is refused."""
        try:
            item = self.client.get_json(self._by_path(path))
        except ItemNotFound:
            return
        if "folder" in item:
            raise EntryExists(f"{path!r} is a folder")

    def _verified(self, path: str, item: dict[str, Any], digest: str, size: int) -> Entry:
        entry = self._entry(path, item)
        server = entry.hashes.get(HASH_NAME)
        if entry.size != size or server != digest:
            raise HashMismatch(
                f"{path!r}: sent {size} bytes with quickXorHash {digest}, the server has "
                f"{entry.size} bytes with {server}")
        return entry

    def _simple_upload(self, path: str, parent_id: str, name: str, stream: BinaryIO,
                       size: int) -> tuple[dict[str, Any], str]:
        data = read_exactly(stream, size)
        if len(data) != size or stream.read(1):
            raise SizeMismatch(f"the source did not give exactly the {size} bytes announced")
        url = self._by_id(parent_id, f":/{_quote_path(name)}:/content")
        conflict = "@microsoft.graph.conflictBehavior"
        # Most writes are new files: ask for "fail" and look closer only when something is
        # there, so that a new file costs one request and a folder is never replaced.
        try:
            answer = self.client.request("PUT", url, content=data, params={conflict: "fail"})
        except NameExists:
            self._refuse_folder(path)
            answer = self.client.request("PUT", url, content=data, params={conflict: "replace"})
        item: dict[str, Any] = answer.json()
        return item, QuickXorHash(data).b64digest()

    def _session_upload(self, upload: _Upload) -> dict[str, Any]:
        key = UploadJournal.key(self.drive_id, upload.path, upload.size, upload.modified)
        url, start = self._resume(key)
        if url is None:
            url, start = self._new_session(key, upload), 0
        try:
            return self._send_fragments(upload, url, start)
        except UploadSessionNotFound:
            self.journal.forget(key)
            finished = self._finished_elsewhere(upload)
            if finished is not None:
                return finished
            # The session expired or was lost: start again from the first byte.
            upload.stream.seek(0)
            upload.digest, upload.position = QuickXorHash(), 0
            url = self._new_session(key, upload)
            return self._send_fragments(upload, url, 0)

    def _resume(self, key: str) -> tuple[str | None, int]:
        record = self.journal.load(key)
        if record is None:
            return None, 0
        try:
            status = self.client.request("GET", record["uploadUrl"], authenticated=False).json()
        except ItemNotFound:
            self.journal.forget(key)
            return None, 0
        ranges = status.get("nextExpectedRanges") or []
        if not ranges:
            # Every byte is on the server but the file was not placed (a 409 or 507 at the
            # last fragment, or a lost answer): the session waits for an explicit commit.
            return str(record["uploadUrl"]), int(record.get("size", 0))
        return str(record["uploadUrl"]), first_expected(ranges) or 0

    def _new_session(self, key: str, upload: _Upload) -> str:
        item: dict[str, Any] = {"@microsoft.graph.conflictBehavior": "replace"}
        info = _file_system_info(upload.modified, upload.created)
        if info:
            item["fileSystemInfo"] = info
        url = self._by_id(upload.parent_id, f":/{_quote_path(upload.name)}:/createUploadSession")
        session = self.client.send_json("POST", url, {"item": item})
        upload_url = str(session["uploadUrl"])
        self.journal.save(key, {"uploadUrl": upload_url, "path": upload.path,
                                "size": upload.size, "drive": self.drive_id,
                                "expirationDateTime": session.get("expirationDateTime")})
        return upload_url

    def _advance(self, upload: _Upload, target: int) -> None:
        """Read (and hash) the stream up to ``target`` without sending: bytes the server
        already holds. Going backwards means starting the hash again."""
        if target < upload.position:
            upload.stream.seek(0)
            upload.digest, upload.position = QuickXorHash(), 0
        while upload.position < target:
            chunk = read_exactly(upload.stream, min(8 * 1024 * 1024, target - upload.position))
            if not chunk:
                raise SizeMismatch(f"{upload.path!r}: the source ended early")
            upload.digest.update(chunk)
            upload.position += len(chunk)

    def _send_fragments(self, upload: _Upload, url: str, start: int) -> dict[str, Any]:
        self._advance(upload, start)
        while True:
            if upload.position == upload.size:
                if upload.stream.read(1):
                    self._abandon(upload, url)
                    raise SizeMismatch(f"{upload.path!r}: the source is longer than the "
                                       f"{upload.size} bytes announced; the session was "
                                       "cancelled")
                return self._commit(upload, url)
            length = min(self.fragment_size, upload.size - upload.position)
            chunk = read_exactly(upload.stream, length)
            final = upload.position + length == upload.size
            if len(chunk) != length or (final and upload.stream.read(1)):
                # Refuse before the last fragment, so the old file is never replaced.
                self._abandon(upload, url)
                raise SizeMismatch(f"{upload.path!r}: the source did not give exactly the "
                                   f"{upload.size} bytes announced; the session was cancelled")
            first, last = upload.position, upload.position + length - 1
            upload.digest.update(chunk)
            upload.position += length
            try:
                answer = self.client.request(
                    "PUT", url, content=chunk, authenticated=False,
                    headers={"Content-Range": f"bytes {first}-{last}/{upload.size}"})
            except InvalidRange:
                # Already received (our earlier attempt got through): ask where to go on.
                answer = self.client.request("GET", url, authenticated=False)
            except NameExists:
                if not final:
                    raise
                # Something took the name during the upload. The session is kept until it
                # expires: commit it over what is there (never over a folder).
                self._refuse_folder(upload.path)
                return self._commit(upload, url)
            body: dict[str, Any] = answer.json()
            if answer.status_code in (200, 201) and "id" in body:
                # The driveItem: the last fragment completed the file.
                self._forget(upload)
                return body
            ranges = body.get("nextExpectedRanges") or []
            # No range left: every byte is there, waiting for a commit (the loop's head).
            self._advance(upload, upload.size if not ranges else first_expected(ranges) or 0)

    def _forget(self, upload: _Upload) -> None:
        self.journal.forget(UploadJournal.key(self.drive_id, upload.path, upload.size,
                                              upload.modified))

    def _commit(self, upload: _Upload, url: str) -> dict[str, Any]:
        """Place a session's file explicitly ("Handle upload errors"): PUT the driveItem
        with ``@microsoft.graph.sourceUrl``. A 507 here leaves session and journal as they
        are, so a later write commits once there is room."""
        item = self.client.send_json(
            "PUT", self._by_id(upload.parent_id, f":/{_quote_path(upload.name)}:"),
            {"name": upload.name, "@microsoft.graph.conflictBehavior": "replace",
             "@microsoft.graph.sourceUrl": url})
        self._forget(upload)
        return item

    def _abandon(self, upload: _Upload, url: str) -> None:
        """Cancel a session that can never complete, so the old file stays as it was."""
        self.journal.forget(UploadJournal.key(self.drive_id, upload.path, upload.size,
                                              upload.modified))
        with contextlib.suppress(ItemNotFound):
            self.client.request("DELETE", url, authenticated=False)

    def _finished_elsewhere(self, upload: _Upload) -> dict[str, Any] | None:
        """After a lost session: if every byte was sent, the last fragment may have
        completed the file before its answer was lost. Return the item if it matches."""
        if upload.position != upload.size:
            return None
        try:
            item = self.client.get_json(self._by_path(upload.path))
        except ItemNotFound:
            return None
        qxh = ((item.get("file") or {}).get("hashes") or {}).get("quickXorHash")
        if item.get("size") == upload.size and qxh == upload.digest.b64digest():
            return item
        return None

    # --- listing through delta ----------------------------------------------------------
    @_storage_errors_iter
    def list_all(self) -> Iterator[Entry]:
        """Every file and folder of the drive, from one delta enumeration."""
        yield from self.delta(None).entries

    @_storage_errors
    def delta(self, token: str | None = None) -> DeltaListing:
        """Changes since ``token`` (everything when None). The token is the previous
        ``@odata.deltaLink``, followed verbatim. A token the service no longer honours
        (410) gives a full enumeration, from the ``Location`` Graph sent, marked
        ``resynced``."""
        try:
            return self._delta(token)
        except ResyncRequired as exc:
            if token is None:
                raise
            listing = self._delta(None, start=exc.location)
            listing.resynced = True
            return listing

    def _delta(self, token: str | None, start: str | None = None) -> DeltaListing:
        params: dict[str, str | int] | None = None
        if start or (token and token.startswith(("https://", "http://"))):
            first = start or str(token)
        else:
            first = f"drives/{self.drive_id}/root/delta"
            params = {"$top": LIST_PAGE}
            if token:  # a bare token kept from before deltaLinks were stored whole
                params["token"] = token
        seen: dict[str, dict[str, Any]] = {}
        link = ""
        for page in self.client.pages(first, params=params):
            for item in page.get("value", []):
                seen[str(item["id"])] = item   # an item may repeat: the last one wins
            link = str(page.get("@odata.deltaLink", link))
        paths = _Paths(self, seen)
        entries, removed, ids = [], [], {}
        for item_id, item in seen.items():
            if "deleted" in item:
                removed.append(item_id)
            elif "root" not in item:
                path = paths.of(item_id)
                ids[item_id] = path
                entries.append(self._entry(path, item))
        return DeltaListing(entries, removed, link, ids)


class _Paths:
    """Paths from delta items, which carry parent ids but no parent paths."""

    def __init__(self, backend: OneDriveBackend, items: dict[str, dict[str, Any]]) -> None:
        self.backend = backend
        self.items = items
        self.known: dict[str, str] = {}

    def of(self, item_id: str) -> str:
        if item_id in self.known:
            return self.known[item_id]
        item = self.items.get(item_id)
        if item is None or "deleted" in item:
            item = self.backend.client.get_json(self.backend._by_id(item_id))
            self.items[item_id] = item
        if "root" in item:
            path = ""
        else:
            parent = str((item.get("parentReference") or {}).get("id", ""))
            path = join(self.of(parent), str(item["name"])) if parent else str(item["name"])
        self.known[item_id] = path
        return path


def canary_upload(client: GraphClient, upn: str, folder: str) -> str:
    """One file in ``folder`` of ``upn``'s OneDrive, written as a migration writes it,
    its quickXorHash checked, then deleted (``mobilise graph check --folder``)."""
    data = f"Mobilise canary {uuid.uuid4()}\n".encode()
    path = f"{folder.strip('/')}/mobilise-canary-{uuid.uuid4().hex[:8]}.txt"
    with tempfile.TemporaryDirectory() as journal:
        backend = OneDriveBackend(client, upn, journal_dir=Path(journal), simple_upload_limit=0)
        # An upload session with fileSystemInfo, as a migration writes; the backend checks
        # the quickXorHash the service reports against the one it computed.
        entry = backend.write(path, io.BytesIO(data), len(data), modified=datetime.now(UTC))
        backend.remove(path)
    return f"created {path}, quickXorHash {entry.hashes.get('quickxor')} verified, deleted"
