"""Entra ID groups and their members: ``POST /groups/{id}/members/$ref`` and
``GET /groups/{id}/members``, held to Microsoft's "Add members" and "List group members"
pages (v1.0).

Adding answers 204 with no body; adding an object already a member answers 400 with
Microsoft's message ("One or more added object references already exist for the
following modified properties: 'members'."); an object (or group) that does not exist
answers 404. The body names the member as ``{"@odata.id":
"https://graph.microsoft.com/v1.0/directoryObjects/{id}"}``. Groups are made through the
admin API (``POST /_emulator/groups``): the programme never creates them.
"""

from __future__ import annotations

import re
import sqlite3
import uuid
from typing import Any

from mobilise.emulator.errors import GraphFault, invalid_request
from mobilise.emulator.shapes import user_json
from mobilise.emulator.store import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS groups (id TEXT PRIMARY KEY, display_name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS group_members (
    group_id TEXT NOT NULL, member_id TEXT NOT NULL, seq INTEGER PRIMARY KEY AUTOINCREMENT,
    UNIQUE (group_id, member_id));
"""
# The reference must name a directory object by its id (a user's, here).
_REFERENCE = re.compile(r"^https://graph\.microsoft\.com/(?:v1\.0|beta)/"
                        r"(?:directoryObjects|users|groups)/([^/?#]+)$")
ALREADY_MEMBER = ("One or more added object references already exist for the following "
                  "modified properties: 'members'.")


def _missing(object_id: str) -> GraphFault:
    return GraphFault(404, "Request_ResourceNotFound",
                      f"Resource '{object_id}' does not exist or one of its queried "
                      "reference-property objects are not present.")


class Groups:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.db: sqlite3.Connection = store.db
        self.db.executescript(SCHEMA)
        self.db.commit()

    def add_group(self, display_name: str, group_id: str | None = None) -> dict[str, Any]:
        gid = group_id or str(uuid.uuid4())
        self.db.execute("INSERT OR IGNORE INTO groups (id, display_name) VALUES (?, ?)",
                        (gid, display_name))
        self.db.commit()
        return self.group(gid)

    def group(self, group_id: str) -> dict[str, Any]:
        row = self.db.execute("SELECT * FROM groups WHERE id = ?", (group_id,)).fetchone()
        if row is None:
            raise _missing(group_id)
        return {"id": row["id"], "displayName": row["display_name"],
                "securityEnabled": True, "mailEnabled": False, "groupTypes": []}

    def add_member(self, group_id: str, body: dict[str, Any]) -> None:
        self.group(group_id)
        reference = body.get("@odata.id")
        match = _REFERENCE.match(reference) if isinstance(reference, str) else None
        if match is None:
            raise GraphFault(400, "Request_BadRequest",
                             "Invalid object identifier '"
                             f"{reference if isinstance(reference, str) else ''}'.")
        member_id = match[1]
        user = self.store.user(member_id)
        if user is None or user["id"] != member_id:  # by id only, as directoryObjects are
            raise _missing(member_id)
        try:
            self.db.execute("INSERT INTO group_members (group_id, member_id) VALUES (?, ?)",
                            (group_id, member_id))
        except sqlite3.IntegrityError:
            raise GraphFault(400, "Request_BadRequest", ALREADY_MEMBER) from None
        self.db.commit()

    def members(self, group_id: str, after: int, top: int) -> list[tuple[int, dict[str, Any]]]:
        self.group(group_id)
        rows = self.db.execute(
            "SELECT seq, member_id FROM group_members WHERE group_id = ? AND seq > ? "
            "ORDER BY seq LIMIT ?", (group_id, after, top)).fetchall()
        found = []
        for row in rows:
            user = self.store.user(row["member_id"])
            if user is not None:
                found.append((int(row["seq"]),
                              {"@odata.type": "#microsoft.graph.user", **user_json(user)}))
        return found


def check_method(method: str, allowed: str) -> None:
    if method != allowed:
        raise invalid_request(f"{method} is not supported here.")
