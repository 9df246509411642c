"""Resource shapes as Graph serialises them: driveItem, drive, user, uploadSession."""

from __future__ import annotations

import hashlib
import hmac
import mimetypes
from typing import Any

from mobilise.emulator.store import Drive, Item, Store

NEARING = 0.10
CRITICAL = 0.01


def item_json(store: Store, item: Item, base: str, *, in_delta: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": item.id,
        "name": item.name,
        "eTag": f'"{{{item.id}}},{item.version}"',
        "createdDateTime": item.created,
        "lastModifiedDateTime": item.modified,
        "size": item.size,
        "fileSystemInfo": {
            "createdDateTime": item.fs_created,
            "lastModifiedDateTime": item.fs_modified,
        },
    }
    reference: dict[str, Any] = {"driveId": item.drive_id, "driveType": "business"}
    if item.parent_id is not None:
        reference["id"] = item.parent_id
        if not in_delta and not item.deleted:
            parent = store.item(item.parent_id)
            names = store.path_of(parent) if parent is not None else []
            reference["path"] = "/drive/root:" + "".join("/" + n for n in names)
    out["parentReference"] = reference
    if item.deleted:
        out["deleted"] = {}
        return out
    if item.parent_id is None:
        out["root"] = {}
    if item.is_folder:
        out["size"] = store.folder_size(item.id)
        out["folder"] = {"childCount": store.child_count(item.id)}
    else:
        mime = mimetypes.guess_type(item.name)[0] or "application/octet-stream"
        out["cTag"] = f'"c:{{{item.id}}},{item.version}"'
        out["file"] = {"mimeType": mime, "hashes": {"quickXorHash": item.qxh}}
        if not in_delta:
            out["@microsoft.graph.downloadUrl"] = download_url(store, item, base)
    return out


def download_signature(store: Store, item_id: str) -> str:
    return hmac.new(store.secret().encode(), item_id.encode(), hashlib.sha256).hexdigest()[:32]


def download_url(store: Store, item: Item, base: str) -> str:
    return f"{base}/_download/{item.id}?sig={download_signature(store, item.id)}"


def quota_state(total: int, remaining: int) -> str:
    if remaining <= 0:
        return "exceeded"
    if remaining < total * CRITICAL:
        return "critical"
    if remaining < total * NEARING:
        return "nearing"
    return "normal"


def drive_json(store: Store, drive: Drive, tenant_host: str) -> dict[str, Any]:
    owner = store.drive_owner(drive)
    used = store.used_bytes(drive.id)
    remaining = max(0, drive.quota_total - used)
    site = owner["upn"].lower().replace(".", "_").replace("@", "_")
    return {
        "id": drive.id,
        "driveType": "business",
        "name": "OneDrive",
        "webUrl": f"https://{tenant_host}/personal/{site}/Documents",
        "owner": {"user": {"id": owner["id"], "displayName": owner["display_name"],
                           "email": owner["mail"]}},
        "quota": {
            "total": drive.quota_total,
            "used": used,
            "remaining": remaining,
            "deleted": 0,
            "state": quota_state(drive.quota_total, remaining),
        },
    }


def user_json(user: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": user["id"],
        "userPrincipalName": user["upn"],
        "displayName": user["display_name"],
        "givenName": user["given_name"],
        "surname": user["surname"],
        "mail": user["mail"],
    }
