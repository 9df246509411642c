"""The endpoint inventory: laptops, their primary users and their offline-files state.

Imported from an Intune or Configuration Manager export (CSV or XLSX) whose columns are
mapped like the roster's: all or nothing, every problem as ``file:line:column``. A device
already known is updated from the newer report; its primary user is matched to a person
by UPN, e-mail or SAM account name (``DOMAIN\\sam`` as Configuration Manager writes it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from mobilise.core import audit
from mobilise.core.actor import Actor
from mobilise.core.clock import Clock, SystemClock, utc
from mobilise.core.importer import Column, ImportSpec, limited, read_rows
from mobilise.core.words import parse_size
from mobilise.endpoints.models import Endpoint
from mobilise.people.models import Person

_NEVER = {"never", "none", "n/a", "-"}
_TIME_FORMATS = ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y", "%Y-%m-%d %H:%M:%S",
                 "%Y-%m-%d %H:%M", "%Y-%m-%d")


def parse_time(text: str) -> datetime | None:
    """ISO 8601 (Intune's exports, with or without a zone) or ``DD/MM/YYYY HH:MM``
    (Configuration Manager's UK reports); "never" for a laptop that has not synced.
    A time without a zone is taken as UTC."""
    value = text.strip()
    if value.lower() in _NEVER:
        return None
    parsed = _parsed_time(value)
    if parsed is None:
        raise ValueError(f"{text!r} is not a date and time (YYYY-MM-DD HH:MM, "
                         "DD/MM/YYYY HH:MM, or never)")
    return utc(parsed)


def _parsed_time(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        pass
    for fmt in _TIME_FORMATS:
        try:
            return datetime.strptime(value, fmt)
        except ValueError:
            continue
    return None


def parse_count(text: str) -> int:
    value = int(text.strip().replace(",", ""))
    if value < 0:
        raise ValueError(f"{text!r}: a count cannot be negative")
    return value


COLUMNS = (
    Column("device", ("device name", "devicename", "computer name", "name", "netbios name")),
    Column("primary_user", ("primary user", "primary user upn", "userprincipalname",
                            "user principal name", "primary user name", "user")),
    Column("last_sync", ("last offline files sync", "last successful sync",
                         "offline files last sync", "last sync"),
           parse=parse_time, required=False),
    Column("cache_bytes", ("cache size", "offline files cache size", "cache bytes"),
           parse=parse_size, required=False),
    Column("pending_items", ("items pending", "pending items", "pending changes",
                             "unsynced items"), parse=parse_count, required=False, default=0),
)


def endpoint_spec() -> ImportSpec:
    return ImportSpec("endpoint inventory", limited(COLUMNS, Endpoint), unique=("device",))


@dataclass(frozen=True)
class ImportResult:
    added: int
    updated: int
    unchanged: int
    unmatched: list[str]  # devices whose primary user is no person of the register


def _user_key(text: str) -> str:
    # Configuration Manager writes DOMAIN\sam; Intune the UPN.
    return text.rsplit("\\", 1)[-1].strip().lower()


def _people_by_user(session: Session, users: set[str]) -> dict[str, int]:
    if not users:
        return {}
    found: dict[str, int] = {}
    chunk = sorted(users)
    for start in range(0, len(chunk), 500):
        part = chunk[start:start + 500]
        rows = session.execute(select(Person.id, Person.upn, Person.email,
                                      Person.sam_account_name).where(or_(
            func.lower(Person.upn).in_(part), func.lower(Person.email).in_(part),
            func.lower(Person.sam_account_name).in_(part))))
        for pid, upn, email, sam in rows:
            for key in (upn, email, sam):
                if key and key.lower() in users:
                    found.setdefault(key.lower(), pid)
    return found


def import_endpoints(session: Session, actor: Actor, path: Path, *,
                     mapping: Mapping[str, str] | None = None,
                     clock: Clock | None = None) -> ImportResult:
    """Add or update every device of the file, in the caller's transaction (all or
    nothing: a file with any problem changes nothing)."""
    rows = read_rows(path, endpoint_spec(), mapping=mapping)
    now = (clock or SystemClock()).now()
    people = _people_by_user(session, {_user_key(r.values["primary_user"]) for r in rows})
    known = {e.device.lower(): e for e in session.scalars(select(Endpoint).where(
        func.lower(Endpoint.device).in_([r.values["device"].lower() for r in rows])))}
    added = updated = unchanged = 0
    unmatched: list[str] = []
    for row in rows:
        values: dict[str, Any] = {**row.values, "reported_at": now, "source_file": path.name,
                                  "person_id": people.get(_user_key(row.values["primary_user"]))}
        if values["person_id"] is None:
            unmatched.append(values["device"])
        existing = known.get(values["device"].lower())
        if existing is None:
            audit.create(session, actor, "endpoint.add", Endpoint(**values))
            added += 1
        elif _differs(existing, values):
            with audit.change(session, actor, "endpoint.report", existing):
                for key, value in values.items():
                    setattr(existing, key, value)
            updated += 1
        else:
            unchanged += 1
    audit.event(session, actor, "endpoint.import", "endpoint_inventory", path.name,
                {"added": added, "updated": updated, "unchanged": unchanged,
                 "unmatched": len(unmatched), "sha256": _sha256(path)})
    session.flush()
    return ImportResult(added, updated, unchanged, unmatched)


def _differs(endpoint: Endpoint, values: dict[str, Any]) -> bool:
    keys = ("primary_user", "person_id", "last_sync", "cache_bytes", "pending_items")
    return any(_same_time(getattr(endpoint, k)) != _same_time(values[k]) for k in keys)


def _same_time(value: Any) -> Any:
    # SQLite hands back naive datetimes: compare instants, not representations.
    return utc(value) if isinstance(value, datetime) else value


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def laptops_of(session: Session, person_ids: Sequence[int]) -> dict[int, list[Endpoint]]:
    """Each person's laptops, by person id."""
    found: dict[int, list[Endpoint]] = {}
    ids = list(person_ids)
    for start in range(0, len(ids), 500):
        for endpoint in session.scalars(select(Endpoint).where(
                Endpoint.person_id.in_(ids[start:start + 500])).order_by(Endpoint.device)):
            assert endpoint.person_id is not None
            found.setdefault(endpoint.person_id, []).append(endpoint)
    return found
