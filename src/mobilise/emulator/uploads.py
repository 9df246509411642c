"""Simple upload and upload sessions, with the rules Microsoft documents: fragments in
order, each under 60 MiB, one total for the whole session, 416 for bytes already received,
expiry after idle time, 201/200 + the driveItem when the last byte arrives.

Fragments that are not a multiple of 320 KiB are accepted: Microsoft only warns that such
sizes "can result in errors committing some files", and the service takes them (the SDK's
own ranges are one byte longer than its chunk size). A 409 or 507 at the last fragment
keeps the session until it expires, as documented ("Handle upload errors"): the upload is
then committed by a PUT carrying ``@microsoft.graph.sourceUrl``. ``deferCommit`` sessions
wait for an empty POST to the uploadUrl after their last byte."""

from __future__ import annotations

import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mobilise.emulator.drives import (
    check_new_name,
    conflict_behaviour,
    file_system_info,
    free_name,
)
from mobilise.emulator.errors import (
    GraphFault,
    invalid_request,
    name_exists,
    not_found,
    quota_reached,
)
from mobilise.emulator.faults import FaultConfig
from mobilise.emulator.names import check_file_size
from mobilise.emulator.quickxor import QuickXorHash
from mobilise.emulator.store import Drive, Item, Session, Store, iso

FRAGMENT_UNIT = 320 * 1024
MAX_FRAGMENT = 60 * 1024 * 1024
MAX_SIMPLE_UPLOAD = 250 * 1024 * 1024
_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")


@dataclass
class Committed:
    item: Item
    created: bool   # 201 when new, 200 when an existing file was replaced


def _check_quota(store: Store, drive: Drive, size: int, replacing: Item | None) -> None:
    freed = replacing.size if replacing is not None and not replacing.is_folder else 0
    if store.used_bytes(drive.id) - freed + size > drive.quota_total:
        raise quota_reached()


def commit_file(store: Store, drive: Drive, parent: Item, name: str, conflict: str,
                content: Path, size: int, fs: tuple[str | None, str | None]) -> Committed:
    """Place a complete file (``content`` is moved, not copied) under ``parent``."""
    existing = store.child(drive.id, parent.id, name)
    if existing is not None and conflict == "fail":
        raise name_exists(name)
    if existing is not None and conflict == "rename":
        name, existing = free_name(store, drive, parent, name), None
    _check_quota(store, drive, size, existing)
    qxh = _hash_file(content)
    if existing is not None and not existing.is_folder:
        os.replace(content, store.content_path(existing.id))
        return Committed(store.replace_content(existing, size, qxh, *fs), created=False)
    if existing is not None:
        store.delete_tree(existing)
    item = store.create_item(drive.id, parent.id, name, is_folder=False, size=size, qxh=qxh,
                             fs_created=fs[0], fs_modified=fs[1])
    os.replace(content, store.content_path(item.id))
    return Committed(item, created=existing is None)


def _hash_file(path: Path) -> str:
    digest = QuickXorHash()
    with path.open("rb") as handle:
        while chunk := handle.read(8 * 1024 * 1024):
            digest.update(chunk)
    return digest.b64digest()


def simple_upload(store: Store, drive: Drive, upn: str, parent: Item, name: str,
                  query_conflict: str | None, body: bytes) -> Committed:
    if len(body) > MAX_SIMPLE_UPLOAD:
        raise GraphFault(413, "invalidRequest",
                         "Simple upload is limited to 250 MB; use an upload session.",
                         inner="maxFileSizeExceeded")
    conflict = conflict_behaviour(query_conflict, "replace")
    check_new_name(store, upn, parent, name, is_folder=False)
    staging = store.root / "sessions" / f"simple-{secrets.token_hex(8)}.part"
    staging.write_bytes(body)
    try:
        return commit_file(store, drive, parent, name, conflict, staging, len(body),
                           (None, None))
    finally:
        staging.unlink(missing_ok=True)


def create_session(store: Store, drive: Drive, upn: str, parent: Item, name: str,
                   body: dict[str, Any], query_conflict: str | None, client_id: str | None,
                   config: FaultConfig) -> Session:
    item = body.get("item") or {}
    if not isinstance(item, dict):
        raise invalid_request("'item' must be an object.")
    conflict = conflict_behaviour(
        item.get("@microsoft.graph.conflictBehavior", query_conflict), "fail")
    check_new_name(store, upn, parent, name, is_folder=False)
    declared = item.get("fileSize")
    if declared is not None:
        if not isinstance(declared, int) or declared < 0:
            raise invalid_request("fileSize must be a non-negative integer.")
        check_file_size(declared)
        _check_quota(store, drive, declared, store.child(drive.id, parent.id, name))
    created, modified = file_system_info(item)
    defer = body.get("deferCommit", False)
    if not isinstance(defer, bool):
        raise invalid_request("deferCommit must be true or false.")
    now = time.time()
    session = Session(
        id=secrets.token_urlsafe(24), drive_id=drive.id, parent_id=parent.id, name=name,
        conflict=conflict, fs_created=created, fs_modified=modified, declared_size=declared,
        total=declared, received=0, expires=now + config.session_idle_seconds,
        deadline=now + config.session_max_seconds, client_id=client_id, defer_commit=defer,
    )
    store.create_session(session)
    return session


def live_session(store: Store, session_id: str) -> Session:
    session = store.session(session_id)
    if session is not None and min(session.expires, session.deadline) < time.time():
        store.drop_session(session.id)
        session = None
    if session is None:
        raise not_found("The upload session was not found or has expired.",
                        inner="uploadSessionNotFound")
    return session


def session_json(session: Session, upload_url: str | None = None) -> dict[str, Any]:
    end = f"{session.total - 1}" if session.total else ""
    complete = session.total is not None and session.received >= session.total
    out: dict[str, Any] = {
        "expirationDateTime": iso(min(session.expires, session.deadline)),
        # Every byte is here: nothing more is expected (the commit is pending or failed).
        "nextExpectedRanges": [] if complete else [f"{session.received}-{end}"],
    }
    if upload_url is not None:
        out["uploadUrl"] = upload_url
    return out


@dataclass
class Fragment:
    start: int
    end: int
    total: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def check_fragment(session: Session, content_range: str | None,
                   content_length: str | None) -> Fragment:
    """Refuse a fragment before its body is read, as the service does."""
    match = _RANGE.match(content_range or "")
    if match is None:
        raise invalid_request("Content-Range must be 'bytes start-end/total'.",
                              inner="invalidRange")
    fragment = Fragment(*(int(g) for g in match.groups()))
    if fragment.end < fragment.start or fragment.end >= fragment.total:
        raise invalid_request("The Content-Range is not satisfiable.", inner="invalidRange")
    check_file_size(fragment.total)
    if session.total is not None and fragment.total != session.total:
        raise invalid_request(
            f"The total size {fragment.total} differs from the session's {session.total}.",
            inner="fragmentLengthMismatch")
    if content_length is not None and int(content_length) != fragment.length:
        raise invalid_request("Content-Length does not match the Content-Range.",
                              inner="fragmentLengthMismatch")
    if fragment.length >= MAX_FRAGMENT:
        raise GraphFault(413, "invalidRequest", "A fragment must be smaller than 60 MiB.",
                         inner="maxFragmentLengthExceeded")
    if fragment.start < session.received:
        raise GraphFault(416, "invalidRange",
                         f"Bytes up to {session.received - 1} were already received.",
                         inner="fragmentOverlap")
    if fragment.start > session.received:
        raise invalid_request(
            f"Fragments must arrive in order; expected byte {session.received}.",
            inner="fragmentOutOfOrder")
    return fragment


def accept_fragment(store: Store, session: Session, fragment: Fragment, body: bytes,
                    config: FaultConfig) -> Committed | None:
    if len(body) != fragment.length:
        raise invalid_request("The body length does not match the Content-Range.",
                              inner="fragmentLengthMismatch")
    with store.session_path(session.id).open("r+b") as part:
        part.seek(fragment.start)
        part.write(body)
    session.total = fragment.total
    session.received = fragment.end + 1
    session.expires = time.time() + config.session_idle_seconds
    store.save_session(session)
    if session.received < fragment.total or session.defer_commit:
        return None
    return finish(store, session)


def finish(store: Store, session: Session, *, name: str | None = None,
           conflict: str | None = None) -> Committed:
    """Place the session's file. A refusal (409, 507) keeps the session for a later commit
    with other metadata; success or a vanished destination ends it."""
    if session.total is None or session.received < session.total:
        raise invalid_request("The upload session has not received every byte yet.",
                              inner="uploadSessionIncomplete")
    drive = store.drive(session.drive_id)
    parent = store.item(session.parent_id)
    if drive is None or parent is None:
        store.drop_session(session.id)
        raise not_found("The destination folder no longer exists.",
                        inner="uploadSessionFailed")
    part = store.session_path(session.id)
    done = commit_file(store, drive, parent, name or session.name, conflict or session.conflict,
                       part, session.total, (session.fs_created, session.fs_modified))
    store.drop_session(session.id)
    return done
