"""Intune's managed devices: ``/deviceManagement/managedDevices`` and its actions.

Devices live in the emulator's SQLite store (table ``managed_devices``; each device's Graph
JSON kept whole, with IMEI and serial copied into indexed columns for ``$filter``). Actions
are recorded in ``device_actions`` and change ``managementState`` as Intune's beta API shows
it (``wipePending``, ``retirePending``). Writes are held to Intune's limit for the devices
service: ``intune_writes_per_20s`` per app in any 20 s, then 429 with ``Retry-After``.

As in Intune, an accepted action is only a request: the device's ``deviceActionResults``
gains an entry (actionName, actionState ``pending``, startDateTime, lastUpdatedDateTime)
that turns ``done`` (or ``failed``) when the device next checks in. Tests decide when that
happens with ``POST /_emulator/managedDevices/checkin``.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

from mobilise.emulator.errors import GraphFault, invalid_request
from mobilise.emulator.store import Store, dumps, iso

SCHEMA = """
CREATE TABLE IF NOT EXISTS managed_devices (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, imei TEXT,
    serial TEXT, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS managed_devices_imei ON managed_devices (imei);
CREATE INDEX IF NOT EXISTS managed_devices_serial ON managed_devices (serial);
CREATE TABLE IF NOT EXISTS device_actions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, device_id TEXT NOT NULL, action TEXT NOT NULL,
    body TEXT NOT NULL, at REAL NOT NULL, client_id TEXT);
"""

# The action, and the managementState it leaves the device in until it checks in.
ACTIONS: dict[str, str | None] = {
    "wipe": "wipePending", "retire": "retirePending", "remoteLock": None,
    "syncDevice": None, "resetPasscode": None, "locateDevice": None,
}
WINDOW_SECONDS = 20.0
_EQ = re.compile(r"^(\w+)\s+(eq|ne)\s+(?:'((?:[^']|'')*)'|(true|false|null))$")
_INDEXED = re.compile(r"^\s*(imei|serialNumber)\s+eq\s+'((?:[^']|'')*)'\s*$")
_STARTS = re.compile(r"^startswith\(\s*(\w+)\s*,\s*'((?:[^']|'')*)'\s*\)$")
# v1.0's deviceEnrollmentType members; other values (androidEnterpriseFullyManaged...) are
# beta-only, and v1.0 answers them as its evolvable enum's "unknownFutureValue".
V1_ENROLLMENT_TYPES = frozenset({
    "unknown", "userEnrollment", "deviceEnrollmentManager", "appleBulkWithUser",
    "appleBulkWithoutUser", "windowsAzureADJoin", "windowsBulkUserless",
    "windowsAutoEnrollment", "windowsBulkAzureDomainJoin", "windowsCoManagement",
    "windowsAzureADJoinUsingDeviceAuth", "appleUserEnrollment",
    "appleUserEnrollmentWithServiceAccount", "unknownFutureValue"})
Predicate = Callable[[dict[str, Any]], bool]


def _clause(text: str) -> Predicate:
    if match := _EQ.match(text):
        field, op = match[1], match[2]
        value: Any = (match[3].replace("''", "'") if match[3] is not None
                      else {"true": True, "false": False, "null": None}[str(match[4])])
        if isinstance(value, str):
            folded = value.lower()  # Intune compares strings without regard to case
            return lambda d: (str(d.get(field) or "").lower() == folded) == (op == "eq")
        return lambda d: (d.get(field) == value) == (op == "eq")
    if match := _STARTS.match(text):
        field, prefix = match[1], match[2].replace("''", "'").lower()
        return lambda d: str(d.get(field) or "").lower().startswith(prefix)
    raise invalid_request(f"Unsupported $filter clause '{text}'.")


def device_filter(text: str) -> Predicate:
    """``field eq 'value'`` / ``ne`` / ``startswith(field,'v')`` clauses joined by ``and``,
    over the device's top-level properties."""
    tests = [_clause(c.strip()) for c in re.split(r"\s+and\s+", text.strip()) if c.strip()]
    if not tests:
        raise invalid_request("The $filter is empty.")
    return lambda device: all(test(device) for test in tests)


def v1_view(device: dict[str, Any]) -> dict[str, Any]:
    """The device as Graph v1.0 shows it."""
    if device.get("deviceEnrollmentType") not in V1_ENROLLMENT_TYPES:
        return {**device, "deviceEnrollmentType": "unknownFutureValue"}
    return device

DEFAULTS: dict[str, Any] = {
    "deviceName": "", "serialNumber": "", "imei": "", "meid": "",
    "complianceState": "unknown", "enrolledDateTime": "0001-01-01T00:00:00Z",
    "lastSyncDateTime": "0001-01-01T00:00:00Z", "operatingSystem": "Android",
    "osVersion": "", "androidSecurityPatchLevel": "", "userPrincipalName": "",
    "managedDeviceOwnerType": "company",
    "deviceEnrollmentType": "androidEnterpriseFullyManaged", "phoneNumber": "",
    "subscriberCarrier": "", "model": "", "manufacturer": "", "managementState": "managed",
    "deviceActionResults": [],
}
# What a completed (or failed) action leaves in managementState, where Intune shows one.
AFTER_CHECKIN: dict[str, tuple[str, str]] = {
    "wipe": ("wipeIssued", "wipeFailed"), "retire": ("retireIssued", "retireFailed"),
}
ACTION_STATES = ("done", "failed", "canceled", "notSupported")


class ManagedDevices:
    def __init__(self, store: Store) -> None:
        self.db: sqlite3.Connection = store.db
        self.db.executescript(SCHEMA)
        self.db.commit()

    def load(self, devices: list[dict[str, Any]]) -> int:
        """Add or replace devices (keyed by ``id``, given or made up)."""
        rows = []
        for given in devices:
            device = {**DEFAULTS, **given}
            device.setdefault("id", str(uuid.uuid4()))
            rows.append((device["id"], device["imei"] or None, device["serialNumber"] or None,
                         dumps(device)))
        self.db.executemany(
            "INSERT INTO managed_devices (id, imei, serial, body) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET imei = excluded.imei, serial = excluded.serial,"
            " body = excluded.body", rows)
        self.db.commit()
        return len(rows)

    def clear(self) -> None:
        self.db.execute("DELETE FROM managed_devices")
        self.db.execute("DELETE FROM device_actions")
        self.db.commit()

    def page(self, after: int, limit: int, filter_: str | None
             ) -> list[tuple[int, dict[str, Any]]]:
        keep = device_filter(filter_) if filter_ else None
        indexed = _INDEXED.match(filter_ or "")
        where, args = "seq > ?", []
        if indexed is not None:  # one IMEI or serial: the indexed column narrows the scan
            where += f" AND {'imei' if indexed[1] == 'imei' else 'serial'} = ?"
            args.append(indexed[2].replace("''", "'"))
        found: list[tuple[int, dict[str, Any]]] = []
        while len(found) < limit:
            rows = self.db.execute(
                f"SELECT seq, body FROM managed_devices WHERE {where} ORDER BY seq LIMIT ?",
                (after, *args, max(limit, 500))).fetchall()
            if not rows:
                break
            for row in rows:
                device = json.loads(row["body"])
                if keep is None or keep(device):
                    found.append((int(row["seq"]), v1_view(device)))
                    if len(found) == limit:
                        break
            after = int(rows[-1]["seq"])
        return found

    def get(self, device_id: str) -> dict[str, Any]:
        row = self.db.execute("SELECT body FROM managed_devices WHERE id = ?",
                              (device_id,)).fetchone()
        if row is None:
            raise GraphFault(404, "ResourceNotFound",
                             f"Resource not found for the segment 'managedDevices' "
                             f"with key '{device_id}'.")
        device: dict[str, Any] = json.loads(row["body"])
        return device

    def get_v1(self, device_id: str) -> dict[str, Any]:
        return v1_view(self.get(device_id))

    def act(self, device_id: str, action: str, body: dict[str, Any],
            client_id: str | None) -> None:
        if action not in ACTIONS:
            raise invalid_request(f"Unsupported action '{action}'.")
        device = self.get(device_id)
        state = ACTIONS[action]
        if state is not None:
            device["managementState"] = state
        now = iso(time.time())
        if action == "syncDevice":
            device["lastSyncDateTime"] = now
        # Intune shows the latest request of each action: a new one replaces the last.
        results = [r for r in device.get("deviceActionResults") or []
                   if r.get("actionName") != action]
        results.append({"actionName": action, "actionState": "pending",
                        "startDateTime": now, "lastUpdatedDateTime": now})
        device["deviceActionResults"] = results
        self._save(device)
        self.db.execute(
            "INSERT INTO device_actions (device_id, action, body, at, client_id)"
            " VALUES (?, ?, ?, ?, ?)", (device_id, action, dumps(body), time.time(), client_id))
        self.db.commit()

    def _save(self, device: dict[str, Any]) -> None:
        self.db.execute("UPDATE managed_devices SET body = ? WHERE id = ?",
                        (dumps(device), device["id"]))

    def check_in(self, ids: list[str] | None, outcome: str = "done",
                 actions: list[str] | None = None) -> int:
        """Devices (those named, or all) check in: their pending actions (those named, or
        all) end in ``outcome``. Returns how many actions ended."""
        if outcome not in ACTION_STATES:
            raise ValueError(f"outcome must be one of {', '.join(ACTION_STATES)}")
        if ids is None:
            rows = self.db.execute("SELECT body FROM managed_devices").fetchall()
        else:
            rows = [r for i in ids for r in self.db.execute(
                "SELECT body FROM managed_devices WHERE id = ?", (i,)).fetchall()]
        now, ended = iso(time.time()), 0
        for row in rows:
            device = json.loads(row["body"])
            changed = False
            for result in device.get("deviceActionResults") or []:
                name = result.get("actionName")
                if result.get("actionState") != "pending" or (actions and name not in actions):
                    continue
                result["actionState"], result["lastUpdatedDateTime"] = outcome, now
                if name in AFTER_CHECKIN and outcome in ("done", "failed"):
                    device["managementState"] = AFTER_CHECKIN[name][outcome != "done"]
                changed, ended = True, ended + 1
            if changed:
                device["lastSyncDateTime"] = now
                self._save(device)
        self.db.commit()
        return ended

    def actions(self) -> list[dict[str, Any]]:
        return [{**dict(r), "body": json.loads(r["body"])} for r in self.db.execute(
            "SELECT * FROM device_actions ORDER BY id")]


class WriteLimit:
    """A sliding 20-second window of writes per app."""

    def __init__(self) -> None:
        self._writes: dict[str, deque[float]] = {}

    def charge(self, app: str, limit: int) -> None:
        if limit <= 0:
            return
        now = time.monotonic()
        window = self._writes.setdefault(app, deque())
        while window and window[0] <= now - WINDOW_SECONDS:
            window.popleft()
        if len(window) >= limit:
            wait = max(1, math.ceil(window[0] + WINDOW_SECONDS - now))
            raise GraphFault(429, "TooManyRequests",
                             "Intune write limit for this application reached.",
                             inner="throttledRequest", headers={"Retry-After": str(wait)})
        window.append(now)
