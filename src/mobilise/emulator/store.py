"""The emulator's state: metadata in SQLite (``state.sqlite`` under the root), file content
as plain files under ``content/`` and partial uploads under ``sessions/``. Everything the
emulator knows survives a restart; only the fault RNG position and the resource-unit
buckets start afresh.

Every change to an item takes the next value of one change sequence; ``delta`` answers are
"everything with a sequence number after the token", which is why deleted items are kept
as tombstones.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS apps (
    client_id TEXT PRIMARY KEY, secret TEXT, certificate_pem TEXT);
CREATE TABLE IF NOT EXISTS tokens (
    token TEXT PRIMARY KEY, client_id TEXT NOT NULL, expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY, upn TEXT NOT NULL, upn_key TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL, given_name TEXT, surname TEXT, mail TEXT);
CREATE TABLE IF NOT EXISTS drives (
    id TEXT PRIMARY KEY, user_id TEXT NOT NULL UNIQUE, quota_total INTEGER NOT NULL,
    root_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    id TEXT PRIMARY KEY, drive_id TEXT NOT NULL, parent_id TEXT, name TEXT NOT NULL,
    name_key TEXT NOT NULL, is_folder INTEGER NOT NULL, size INTEGER NOT NULL DEFAULT 0,
    qxh TEXT, created TEXT NOT NULL, modified TEXT NOT NULL, fs_created TEXT NOT NULL,
    fs_modified TEXT NOT NULL, version INTEGER NOT NULL DEFAULT 1, seq INTEGER NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0);
CREATE UNIQUE INDEX IF NOT EXISTS items_child
    ON items (drive_id, parent_id, name_key) WHERE deleted = 0;
CREATE INDEX IF NOT EXISTS items_seq ON items (drive_id, seq);
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY, drive_id TEXT NOT NULL, parent_id TEXT NOT NULL,
    name TEXT NOT NULL, conflict TEXT NOT NULL, fs_created TEXT, fs_modified TEXT,
    declared_size INTEGER, total INTEGER, received INTEGER NOT NULL DEFAULT 0,
    expires REAL NOT NULL, deadline REAL NOT NULL, client_id TEXT,
    defer_commit INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS auth_codes (
    code TEXT PRIMARY KEY, client_id TEXT NOT NULL, redirect_uri TEXT NOT NULL,
    user_id TEXT NOT NULL, scope TEXT NOT NULL, nonce TEXT, challenge TEXT,
    challenge_method TEXT, expires REAL NOT NULL, redeemed INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS seq_times (seq INTEGER PRIMARY KEY, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT, started REAL NOT NULL, finished REAL,
    method TEXT NOT NULL, path TEXT NOT NULL, status INTEGER, retry_after REAL,
    client_request_id TEXT, client_id TEXT, fault TEXT, content_range TEXT, latency REAL);
"""


def new_id() -> str:
    return "01" + secrets.token_hex(16).upper()


def iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


@dataclass
class Item:
    id: str
    drive_id: str
    parent_id: str | None
    name: str
    is_folder: bool
    size: int
    qxh: str | None
    created: str
    modified: str
    fs_created: str
    fs_modified: str
    version: int
    seq: int
    deleted: bool

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Item:
        return cls(
            id=row["id"], drive_id=row["drive_id"], parent_id=row["parent_id"],
            name=row["name"], is_folder=bool(row["is_folder"]), size=row["size"],
            qxh=row["qxh"], created=row["created"], modified=row["modified"],
            fs_created=row["fs_created"], fs_modified=row["fs_modified"],
            version=row["version"], seq=row["seq"], deleted=bool(row["deleted"]),
        )


@dataclass
class Drive:
    id: str
    user_id: str
    quota_total: int
    root_id: str


@dataclass
class Session:
    id: str
    drive_id: str
    parent_id: str
    name: str
    conflict: str
    fs_created: str | None
    fs_modified: str | None
    declared_size: int | None
    total: int | None
    received: int
    expires: float
    deadline: float
    client_id: str | None
    # deferCommit: the file is placed only on an explicit commit (POST to the uploadUrl).
    defer_commit: bool = False


class Store:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        (root / "content").mkdir(exist_ok=True)
        (root / "sessions").mkdir(exist_ok=True)
        self.db = sqlite3.connect(root / "state.sqlite", check_same_thread=False, timeout=30)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)
        columns = {r["name"] for r in self.db.execute("PRAGMA table_info(sessions)")}
        if "defer_commit" not in columns:  # a root made by an older emulator
            self.db.execute("ALTER TABLE sessions ADD COLUMN defer_commit INTEGER NOT NULL "
                            "DEFAULT 0")
        # Columns added after the first release: a root made by an older emulator gains them.
        for table, column in (("apps", "roles"), ("apps", "redirect_uris"),
                              ("users", "app_roles"), ("users", "groups")):
            if column not in {r["name"] for r in self.db.execute(f"PRAGMA table_info({table})")}:
                self.db.execute(f"ALTER TABLE {table} ADD COLUMN {column} TEXT")
        self.db.commit()

    def close(self) -> None:
        self.db.close()

    # --- meta -------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row["value"])

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )
        self.db.commit()

    def secret(self) -> str:
        """A per-root random secret signing download links."""
        value = self.get_meta("secret")
        if value is None:
            value = secrets.token_hex(16)
            self.set_meta("secret", value)
        return value

    def next_seq(self) -> int:
        value = int(self.get_meta("seq") or "0") + 1
        self.db.execute(
            "INSERT INTO meta (key, value) VALUES ('seq', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (str(value),),
        )
        # When each change happened, for delta tokens given as a timestamp.
        self.db.execute("INSERT OR REPLACE INTO seq_times (seq, at) VALUES (?, ?)",
                        (value, time.time()))
        return value

    def seq_before(self, at: float) -> int:
        """The last change sequence number at or before ``at`` (epoch seconds)."""
        row = self.db.execute("SELECT MAX(seq) AS seq FROM seq_times WHERE at <= ?",
                              (at,)).fetchone()
        return int(row["seq"] or 0)

    def current_seq(self) -> int:
        return int(self.get_meta("seq") or "0")

    # --- apps and tokens --------------------------------------------------------------
    def add_app(self, client_id: str, secret: str | None, certificate_pem: str | None) -> None:
        self.db.execute(
            "INSERT INTO apps (client_id, secret, certificate_pem) VALUES (?, ?, ?) "
            "ON CONFLICT (client_id) DO UPDATE SET secret = excluded.secret, "
            "certificate_pem = excluded.certificate_pem",
            (client_id, secret, certificate_pem),
        )
        self.db.commit()

    def set_app_roles(self, client_id: str, roles: list[str] | None) -> None:
        """The application permissions admin consent granted; None: all of them."""
        self.db.execute("UPDATE apps SET roles = ? WHERE client_id = ?",
                        (None if roles is None else json.dumps(sorted(roles)), client_id))
        self.db.commit()

    def app_roles(self, client_id: str) -> set[str] | None:
        row = self.db.execute("SELECT roles FROM apps WHERE client_id = ?",
                              (client_id,)).fetchone()
        if row is None or row["roles"] is None:
            return None
        return set(json.loads(row["roles"]))

    def set_redirect_uris(self, client_id: str, uris: list[str] | None) -> None:
        """The app registration's web redirect URIs; None: any (the emulator's default)."""
        self.db.execute("UPDATE apps SET redirect_uris = ? WHERE client_id = ?",
                        (None if uris is None else json.dumps(uris), client_id))
        self.db.commit()

    def app(self, client_id: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.db.execute(
            "SELECT * FROM apps WHERE client_id = ?", (client_id,)
        ).fetchone()
        return row

    def issue_token(self, client_id: str, lifetime: int) -> str:
        token = secrets.token_urlsafe(32)
        self.db.execute(
            "INSERT INTO tokens (token, client_id, expires) VALUES (?, ?, ?)",
            (token, client_id, time.time() + lifetime),
        )
        self.db.commit()
        return token

    def token_app(self, token: str) -> str | None:
        row = self.db.execute(
            "SELECT client_id, expires FROM tokens WHERE token = ?", (token,)
        ).fetchone()
        if row is None or row["expires"] < time.time():
            return None
        return str(row["client_id"])

    # --- users and drives -------------------------------------------------------------
    def add_user(self, upn: str, display_name: str | None = None) -> dict[str, Any]:
        existing = self.user(upn)
        if existing is not None:
            return existing
        local = upn.split("@", 1)[0]
        given, _, surname = local.partition(".")
        user_id = secrets.token_hex(16)
        user_id = f"{user_id[:8]}-{user_id[8:12]}-{user_id[12:16]}-{user_id[16:20]}-{user_id[20:]}"
        self.db.execute(
            "INSERT INTO users (id, upn, upn_key, display_name, given_name, surname, mail) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (user_id, upn, upn.lower(), display_name or local.replace(".", " ").title(),
             given.title() or None, surname.title() or None, upn),
        )
        self.db.commit()
        user = self.user(upn)
        assert user is not None
        return user

    def set_assignments(self, upn: str, app_roles: list[str] | None,
                        groups: list[str] | None) -> dict[str, Any]:
        """The app roles assigned to a user and the groups (object ids) they belong to,
        which sign-in puts in the ID token's ``roles`` and ``groups`` claims."""
        user = self.user(upn)
        if user is None:
            raise KeyError(f"no user {upn!r}")
        if app_roles is not None:
            self.db.execute("UPDATE users SET app_roles = ? WHERE id = ?",
                            (json.dumps(sorted(app_roles)), user["id"]))
        if groups is not None:
            self.db.execute("UPDATE users SET groups = ? WHERE id = ?",
                            (json.dumps(sorted(groups)), user["id"]))
        self.db.commit()
        updated = self.user(upn)
        assert updated is not None
        return updated

    # --- sign-in: authorisation codes ---------------------------------------------------
    def add_code(self, code: str, values: dict[str, Any], lifetime: float) -> None:
        self.db.execute(
            "INSERT INTO auth_codes (code, client_id, redirect_uri, user_id, scope, nonce, "
            "challenge, challenge_method, expires) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (code, values["client_id"], values["redirect_uri"], values["user_id"],
             values["scope"], values.get("nonce"), values.get("challenge"),
             values.get("challenge_method"), time.time() + lifetime))
        self.db.commit()

    def code(self, code: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM auth_codes WHERE code = ?", (code,)).fetchone()
        return None if row is None else dict(row)

    def redeem_code(self, code: str) -> bool:
        """Whether this call redeemed the code: a code is good once, and of two redemptions
        at the same moment only one matches the conditional update."""
        won = self.db.execute("UPDATE auth_codes SET redeemed = 1 WHERE code = ? AND "
                              "redeemed = 0", (code,)).rowcount == 1
        self.db.commit()
        return won

    def user(self, id_or_upn: str) -> dict[str, Any] | None:
        row = self.db.execute(
            "SELECT * FROM users WHERE id = ? OR upn_key = ?", (id_or_upn, id_or_upn.lower())
        ).fetchone()
        return None if row is None else dict(row)

    def users_page(self, after: str, limit: int) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT * FROM users WHERE upn_key > ? ORDER BY upn_key LIMIT ?", (after, limit)
        ).fetchall()
        return [dict(r) for r in rows]

    def provision(self, upn: str, quota_total: int) -> Drive:
        user = self.add_user(upn)
        drive = self.drive_of_user(user["id"])
        if drive is not None:
            self.db.execute(
                "UPDATE drives SET quota_total = ? WHERE id = ?", (quota_total, drive.id)
            )
            self.db.commit()
            drive.quota_total = quota_total
            return drive
        drive_id = "b!" + secrets.token_urlsafe(48)
        root_id = new_id()
        now = iso(time.time())
        self.db.execute(
            "INSERT INTO drives (id, user_id, quota_total, root_id) VALUES (?, ?, ?, ?)",
            (drive_id, user["id"], quota_total, root_id),
        )
        self.db.execute(
            "INSERT INTO items (id, drive_id, parent_id, name, name_key, is_folder, created,"
            " modified, fs_created, fs_modified, seq) VALUES (?, ?, NULL, 'root', 'root', 1,"
            " ?, ?, ?, ?, ?)",
            (root_id, drive_id, now, now, now, now, self.next_seq()),
        )
        self.db.commit()
        return Drive(drive_id, user["id"], quota_total, root_id)

    def drive_of_user(self, user_id: str) -> Drive | None:
        row = self.db.execute("SELECT * FROM drives WHERE user_id = ?", (user_id,)).fetchone()
        return None if row is None else Drive(**dict(row))

    def drive(self, drive_id: str) -> Drive | None:
        row = self.db.execute("SELECT * FROM drives WHERE id = ?", (drive_id,)).fetchone()
        return None if row is None else Drive(**dict(row))

    def drive_owner(self, drive: Drive) -> dict[str, Any]:
        row = self.db.execute("SELECT * FROM users WHERE id = ?", (drive.user_id,)).fetchone()
        return dict(row)

    def used_bytes(self, drive_id: str) -> int:
        row = self.db.execute(
            "SELECT COALESCE(SUM(size), 0) AS used FROM items "
            "WHERE drive_id = ? AND deleted = 0 AND is_folder = 0",
            (drive_id,),
        ).fetchone()
        return int(row["used"])

    # --- items ------------------------------------------------------------------------
    def item(self, item_id: str, drive_id: str | None = None) -> Item | None:
        row = self.db.execute(
            "SELECT * FROM items WHERE id = ? AND deleted = 0", (item_id,)
        ).fetchone()
        if row is None or (drive_id is not None and row["drive_id"] != drive_id):
            return None
        return Item.from_row(row)

    def child(self, drive_id: str, parent_id: str, name: str) -> Item | None:
        row = self.db.execute(
            "SELECT * FROM items WHERE drive_id = ? AND parent_id = ? AND name_key = ? "
            "AND deleted = 0",
            (drive_id, parent_id, name.lower()),
        ).fetchone()
        return None if row is None else Item.from_row(row)

    def children(self, parent_id: str, after: tuple[str, str], limit: int) -> list[Item]:
        rows = self.db.execute(
            "SELECT * FROM items WHERE parent_id = ? AND deleted = 0 AND (name_key, id) > (?, ?)"
            " ORDER BY name_key, id LIMIT ?",
            (parent_id, after[0], after[1], limit),
        ).fetchall()
        return [Item.from_row(r) for r in rows]

    def child_count(self, parent_id: str) -> int:
        row = self.db.execute(
            "SELECT COUNT(*) AS n FROM items WHERE parent_id = ? AND deleted = 0", (parent_id,)
        ).fetchone()
        return int(row["n"])

    def folder_size(self, folder_id: str) -> int:
        row = self.db.execute(
            "WITH RECURSIVE tree(id) AS (SELECT ? UNION ALL SELECT i.id FROM items i "
            "JOIN tree t ON i.parent_id = t.id WHERE i.deleted = 0) "
            "SELECT COALESCE(SUM(i.size), 0) AS total FROM items i JOIN tree t ON i.id = t.id"
            " WHERE i.is_folder = 0",
            (folder_id,),
        ).fetchone()
        return int(row["total"])

    def path_of(self, item: Item) -> list[str]:
        """Names from the root (exclusive) down to ``item`` (inclusive)."""
        names: list[str] = []
        current: Item | None = item
        while current is not None and current.parent_id is not None:
            names.append(current.name)
            current = self.item(current.parent_id)
        return list(reversed(names))

    def create_item(
        self,
        drive_id: str,
        parent_id: str,
        name: str,
        *,
        is_folder: bool,
        size: int = 0,
        qxh: str | None = None,
        fs_created: str | None = None,
        fs_modified: str | None = None,
    ) -> Item:
        now = iso(time.time())
        item_id = new_id()
        self.db.execute(
            "INSERT INTO items (id, drive_id, parent_id, name, name_key, is_folder, size, qxh,"
            " created, modified, fs_created, fs_modified, seq) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (item_id, drive_id, parent_id, name, name.lower(), int(is_folder), size, qxh,
             now, now, fs_created or now, fs_modified or now, self.next_seq()),
        )
        self._touch_ancestors(parent_id)
        self.db.commit()
        item = self.item(item_id)
        assert item is not None
        return item

    def replace_content(
        self, item: Item, size: int, qxh: str, fs_created: str | None, fs_modified: str | None
    ) -> Item:
        now = iso(time.time())
        self.db.execute(
            "UPDATE items SET size = ?, qxh = ?, modified = ?, fs_created = ?, fs_modified = ?,"
            " version = version + 1, seq = ? WHERE id = ?",
            (size, qxh, now, fs_created or item.fs_created, fs_modified or now,
             self.next_seq(), item.id),
        )
        if item.parent_id:
            self._touch_ancestors(item.parent_id)
        self.db.commit()
        fresh = self.item(item.id)
        assert fresh is not None
        return fresh

    def update_item(self, item: Item, **fields: Any) -> Item:
        columns = dict(fields)
        if "name" in columns:
            columns["name_key"] = str(columns["name"]).lower()
        columns["modified"] = iso(time.time())
        assignments = ", ".join(f"{k} = ?" for k in columns)
        self.db.execute(
            f"UPDATE items SET {assignments}, version = version + 1, seq = ? WHERE id = ?",
            (*columns.values(), self.next_seq(), item.id),
        )
        if "parent_id" in columns:  # a move changes both folders' size and childCount
            if item.parent_id:
                self._touch_ancestors(item.parent_id)
            self._touch_ancestors(str(columns["parent_id"]))
        self.db.commit()
        fresh = self.item(item.id)
        assert fresh is not None
        return fresh

    def delete_tree(self, item: Item) -> None:
        """Tombstone the item and everything under it; content files go at once."""
        rows = self.db.execute(
            "WITH RECURSIVE tree(id) AS (SELECT ? UNION ALL SELECT i.id FROM items i "
            "JOIN tree t ON i.parent_id = t.id WHERE i.deleted = 0) SELECT id FROM tree",
            (item.id,),
        ).fetchall()
        for row in rows:
            self.db.execute(
                "UPDATE items SET deleted = 1, seq = ? WHERE id = ?", (self.next_seq(), row["id"])
            )
            self.content_path(row["id"]).unlink(missing_ok=True)
        if item.parent_id:
            self._touch_ancestors(item.parent_id)
        self.db.commit()

    def _touch_ancestors(self, folder_id: str) -> None:
        # A folder's size and childCount change with its content, so delta reports it again.
        current: str | None = folder_id
        while current is not None:
            self.db.execute("UPDATE items SET seq = ? WHERE id = ?", (self.next_seq(), current))
            row = self.db.execute(
                "SELECT parent_id FROM items WHERE id = ?", (current,)
            ).fetchone()
            current = None if row is None else row["parent_id"]

    def changes(self, drive_id: str, after: int, limit: int,
                tombstones_after: int) -> list[Item]:
        rows = self.db.execute(
            "SELECT * FROM items WHERE drive_id = ? AND seq > ? "
            "AND (deleted = 0 OR seq > ?) ORDER BY seq LIMIT ?",
            (drive_id, after, tombstones_after, limit),
        ).fetchall()
        return [Item.from_row(r) for r in rows]

    def content_path(self, item_id: str) -> Path:
        return self.root / "content" / item_id

    # --- upload sessions --------------------------------------------------------------
    def create_session(self, session: Session) -> None:
        self.db.execute(
            "INSERT INTO sessions (id, drive_id, parent_id, name, conflict, fs_created,"
            " fs_modified, declared_size, total, received, expires, deadline, client_id,"
            " defer_commit) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (session.id, session.drive_id, session.parent_id, session.name, session.conflict,
             session.fs_created, session.fs_modified, session.declared_size, session.total,
             session.received, session.expires, session.deadline, session.client_id,
             int(session.defer_commit)),
        )
        self.db.commit()
        self.session_path(session.id).touch()

    def session(self, session_id: str) -> Session | None:
        row = self.db.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
        if row is None:
            return None
        values = dict(row)
        values["defer_commit"] = bool(values.get("defer_commit"))
        return Session(**values)

    def save_session(self, session: Session) -> None:
        self.db.execute(
            "UPDATE sessions SET total = ?, received = ?, expires = ? WHERE id = ?",
            (session.total, session.received, session.expires, session.id),
        )
        self.db.commit()

    def drop_session(self, session_id: str) -> None:
        self.db.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
        self.db.commit()
        self.session_path(session_id).unlink(missing_ok=True)

    def session_path(self, session_id: str) -> Path:
        return self.root / "sessions" / f"{session_id}.part"

    # --- request log ------------------------------------------------------------------
    def log_start(self, method: str, path: str, client_request_id: str | None,
                  content_range: str | None) -> int:
        cursor = self.db.execute(
            "INSERT INTO requests (started, method, path, client_request_id, content_range)"
            " VALUES (?, ?, ?, ?, ?)",
            (time.time(), method, path, client_request_id, content_range),
        )
        self.db.commit()
        return int(cursor.lastrowid or 0)

    def log_finish(self, row_id: int, status: int, retry_after: float | None,
                   client_id: str | None, fault: str | None,
                   latency: float | None = None) -> None:
        self.db.execute(
            "UPDATE requests SET finished = ?, status = ?, retry_after = ?, client_id = ?,"
            " fault = ?, latency = ? WHERE id = ?",
            (time.time(), status, retry_after, client_id, fault, latency, row_id),
        )
        self.db.commit()

    def requests(self, after_id: int = 0) -> Iterator[dict[str, Any]]:
        for row in self.db.execute(
            "SELECT * FROM requests WHERE id > ? ORDER BY id", (after_id,)
        ):
            yield dict(row)

    def clear_requests(self) -> None:
        self.db.execute("DELETE FROM requests")
        self.db.commit()


def write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
