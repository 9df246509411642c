"""Drive item operations: addressing by id and by path, children, folders, rename,
delete, delta. Each function takes the store and parsed input and either returns the
item or raises the ``GraphFault`` OneDrive would answer with."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote

from mobilise.emulator.errors import GraphFault, invalid_request, name_exists, not_found
from mobilise.emulator.names import check_name, check_path_length
from mobilise.emulator.store import Drive, Item, Store

CONFLICT_BEHAVIOURS = ("fail", "replace", "rename")


@dataclass
class Address:
    """``root`` or ``items/{id}`` (``items/root`` too), optionally followed by
    ``:/relative/path:`` (literal, or percent-encoded inside the id segment as the SDK sends
    ``by_drive_item_id('root:/Docs:')``), then a suffix such as ``/children``."""

    item_id: str | None        # None: the root
    segments: list[str]        # path below the base item, decoded
    suffix: str                # "", "/children", "/content", "/createUploadSession", ...
    delta: bool = False        # the suffix names the delta function
    delta_token: str | None = None   # delta(token='...'), when given as a function argument


# ``delta``, ``delta()``, ``delta(token='x')``, ``delta(token=x)`` and the qualified
# ``microsoft.graph.delta(...)``: the forms Microsoft documents and its SDKs send.
_DELTA = re.compile(
    r"^/(?:microsoft\.graph\.)?delta(?:\((?:token=(?:'((?:[^']|'')*)'|([^)']*)))?\))?$")


def _split_items(body: str) -> tuple[str, str]:
    """``{id}`` and the raw rest; an id segment that decodes to ``{id}:/path:`` is opened
    up and its path part re-encoded, so the path parser sees one form."""
    slash = body.find("/")
    raw_id, rest = (body, "") if slash < 0 else (body[:slash], body[slash:])
    if ":" in raw_id:
        # Literal ``{id}:/a/b:/suffix``: the path runs across slashes.
        colon = body.index(":")
        return unquote(body[:colon]), body[colon:]
    decoded = unquote(raw_id)
    if ":" in decoded:
        item_id, _, path = decoded.partition(":")
        return item_id, ":" + quote(path, safe="/:") + rest
    return decoded, rest


def parse_address(rest: str) -> Address | None:
    if rest == "/root" or rest.startswith(("/root/", "/root:")):
        item_id, tail = None, rest[len("/root"):]
    elif rest.startswith("/items/"):
        found, tail = _split_items(rest[len("/items/"):])
        item_id = None if found == "root" else found
    else:
        return None
    path_part = ""
    if tail.startswith(":"):
        inner = tail[1:]
        path_part, _, suffix = inner.partition(":")
    else:
        suffix = tail
    segments = [unquote(s) for s in path_part.split("/") if s]
    address = Address(item_id, segments, suffix)
    delta = _DELTA.match(unquote(suffix))
    if delta is not None:
        address.delta = True
        quoted, bare = delta.group(1), delta.group(2)
        token = quoted.replace("''", "'") if quoted is not None else bare
        address.delta_token = token or None
    return address


def base_item(store: Store, drive: Drive, address: Address) -> Item:
    item_id = address.item_id or drive.root_id
    item = store.item(item_id, drive.id)
    if item is None:
        raise not_found(f"Item '{item_id}' does not exist.")
    return item


def walk(store: Store, drive: Drive, start: Item, segments: list[str]) -> Item:
    current = start
    for name in segments:
        child = store.child(drive.id, current.id, name)
        if child is None:
            raise not_found("The resource could not be found.")
        current = child
    return current


def resolve(store: Store, drive: Drive, address: Address) -> Item:
    return walk(store, drive, base_item(store, drive, address), address.segments)


def resolve_parent(store: Store, drive: Drive, address: Address) -> tuple[Item, str]:
    """For ``parent:/name:`` addressing: the existing parent folder and the new name."""
    if not address.segments:
        raise invalid_request("A file name is required in the path.")
    parent = walk(store, drive, base_item(store, drive, address), address.segments[:-1])
    if not parent.is_folder:
        raise invalid_request("The parent is not a folder.")
    return parent, address.segments[-1]


def check_new_name(store: Store, upn: str, parent: Item, name: str, *, is_folder: bool) -> None:
    check_name(name, is_folder=is_folder)
    check_path_length(upn, "/".join([*store.path_of(parent), name]))


def conflict_behaviour(value: Any, default: str) -> str:
    if value is None:
        return default
    if value not in CONFLICT_BEHAVIOURS:
        raise invalid_request(f"Invalid conflictBehavior '{value}'.")
    return str(value)


def free_name(store: Store, drive: Drive, parent: Item, name: str) -> str:
    """OneDrive's "rename": ``report 1.doc``, ``report 2.doc``..."""
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        stem, ext = name, ""
    for n in range(1, 100_000):
        candidate = f"{stem} {n}.{ext}" if ext else f"{stem} {n}"
        if store.child(drive.id, parent.id, candidate) is None:
            return candidate
    raise name_exists(name)


def create_folder(store: Store, drive: Drive, upn: str, parent: Item,
                  body: dict[str, Any]) -> Item:
    name = body.get("name")
    if not isinstance(name, str):
        raise invalid_request("The 'name' property is required.")
    if "folder" not in body:
        raise invalid_request("Only folders can be created with POST children.")
    if not parent.is_folder:
        raise invalid_request("The parent is not a folder.")
    behaviour = conflict_behaviour(body.get("@microsoft.graph.conflictBehavior"), "fail")
    check_new_name(store, upn, parent, name, is_folder=True)
    existing = store.child(drive.id, parent.id, name)
    if existing is not None:
        if behaviour == "fail":
            raise name_exists(name)
        if behaviour == "replace":
            store.delete_tree(existing)
        else:
            name = free_name(store, drive, parent, name)
    return store.create_item(drive.id, parent.id, name, is_folder=True)


def parse_time(value: Any) -> str:
    """Graph timestamps: ISO-8601, stored and answered in UTC to the second."""
    if not isinstance(value, str):
        raise invalid_request("A timestamp must be an ISO-8601 string.")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise invalid_request(f"'{value}' is not an ISO-8601 timestamp.") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def file_system_info(body: dict[str, Any]) -> tuple[str | None, str | None]:
    info = body.get("fileSystemInfo") or {}
    if not isinstance(info, dict):
        raise invalid_request("fileSystemInfo must be an object.")
    created = info.get("createdDateTime")
    modified = info.get("lastModifiedDateTime")
    return (parse_time(created) if created is not None else None,
            parse_time(modified) if modified is not None else None)


def move_target(store: Store, drive: Drive, item: Item, reference: Any) -> Item | None:
    """The new parent a PATCH's ``parentReference`` names (by ``id`` or ``path``), or None
    when it names the current one."""
    if not isinstance(reference, dict):
        raise invalid_request("parentReference must be an object.")
    if reference.get("driveId") not in (None, drive.id):
        raise invalid_request("Moving an item to another drive is not supported.")
    if reference.get("id"):
        parent = store.item(str(reference["id"]), drive.id)
    elif isinstance(reference.get("path"), str):
        path = str(reference["path"]).split("root:", 1)[-1]
        parent = walk(store, drive, store.item(drive.root_id, drive.id) or item,
                      [unquote(s) for s in path.split("/") if s])
    else:
        return None
    if parent is None:
        raise not_found("The destination folder does not exist.")
    if not parent.is_folder:
        raise invalid_request("The destination is not a folder.")
    ancestor: Item | None = parent
    while ancestor is not None:
        if ancestor.id == item.id:
            raise invalid_request("A folder cannot be moved into itself.")
        ancestor = store.item(ancestor.parent_id) if ancestor.parent_id else None
    return None if parent.id == item.parent_id else parent


def patch_item(store: Store, drive: Drive, upn: str, item: Item, body: dict[str, Any]) -> Item:
    changes: dict[str, Any] = {}
    if item.parent_id is None and ("name" in body or "parentReference" in body):
        raise invalid_request("The root cannot be renamed or moved.")
    target = (move_target(store, drive, item, body["parentReference"])
              if "parentReference" in body else None)
    new = str(body.get("name", item.name))
    if target is not None or new != item.name:
        parent = target or store.item(str(item.parent_id))
        assert parent is not None
        check_new_name(store, upn, parent, new, is_folder=item.is_folder)
        clash = store.child(drive.id, parent.id, new)
        if clash is not None and clash.id != item.id:
            raise name_exists(new)
        if new != item.name:
            changes["name"] = new
        if target is not None:
            changes["parent_id"] = target.id
    created, modified = file_system_info(body)
    if created:
        changes["fs_created"] = created
    if modified:
        changes["fs_modified"] = modified
    return store.update_item(item, **changes) if changes else item


def delete_item(store: Store, item: Item) -> None:
    if item.parent_id is None:
        raise GraphFault(403, "accessDenied", "The root of a drive cannot be deleted.")
    store.delete_tree(item)


# --- paging ------------------------------------------------------------------------------
def encode_cursor(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def decode_cursor(text: str) -> dict[str, Any]:
    try:
        value = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (ValueError, json.JSONDecodeError) as exc:
        raise invalid_request("The paging token is not valid.") from exc
    if not isinstance(value, dict):
        raise invalid_request("The paging token is not valid.")
    return value


def page_size(raw: str | None, default: int, maximum: int) -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise invalid_request(f"Invalid $top value '{raw}'.") from exc
    if value < 1:
        raise invalid_request(f"Invalid $top value '{raw}'.")
    return min(value, maximum)


def children_page(store: Store, folder: Item, top: int, skiptoken: str | None
                  ) -> tuple[list[Item], str | None]:
    after = ("", "")
    if skiptoken:
        cursor = decode_cursor(skiptoken)
        after = (str(cursor.get("k", "")), str(cursor.get("i", "")))
    items = store.children(folder.id, after, top + 1)
    more = len(items) > top
    items = items[:top]
    token = encode_cursor({"k": items[-1].name.lower(), "i": items[-1].id}) if more else None
    return items, token


@dataclass
class DeltaPage:
    items: list[Item]
    next_skiptoken: str | None
    delta_token: str | None


def delta_page(store: Store, drive: Drive, token: str | None, skiptoken: str | None,
               top: int) -> DeltaPage:
    """Changes in sequence order from a position. The round is not frozen: an item changed
    while a client pages through comes again later in the same round, which is how
    Microsoft's "an item may appear more than once" arises here. Removals are shown when
    they happened after the token (or, in a first enumeration, after the round began)."""
    if skiptoken:
        cursor = decode_cursor(skiptoken)
        start, position = int(cursor["s"]), int(cursor["p"])
    elif token == "latest":
        return DeltaPage([], None, str(store.current_seq()))
    elif token:
        start = position = _delta_token(store, token)
    else:
        start, position = store.current_seq(), 0
    items = store.changes(drive.id, position, top + 1, tombstones_after=start)
    if len(items) > top:
        items = items[:top]
        return DeltaPage(items, encode_cursor({"s": start, "p": items[-1].seq}), None)
    last = max([position, *(i.seq for i in items)])
    return DeltaPage(items, None, str(last))


RESYNC_INNER = "resyncChangesApplyDifferences"


def _delta_token(store: Store, token: str) -> int:
    """A token we issued (a change sequence number), or a timestamp, which OneDrive for
    Business also takes (``?token=2021-09-29T20%3A00%3A00Z``): changes after that time."""
    try:
        value = int(token)
    except ValueError:
        value = _timestamp_token(store, token)
    if value > store.current_seq() or value < 0:
        raise GraphFault(410, "resyncRequired", "The delta token is no longer valid.",
                         inner=RESYNC_INNER)
    return value


def _timestamp_token(store: Store, token: str) -> int:
    try:
        moment = datetime.fromisoformat(token.replace("Z", "+00:00"))
    except ValueError as exc:
        raise GraphFault(410, "resyncRequired", "The delta token is not valid; start again.",
                         inner=RESYNC_INNER) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return store.seq_before(moment.timestamp())
