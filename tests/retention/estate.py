"""Building small inventories for the retention tests."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pyarrow as pa

from mobilise.retention.evaluate import Estate

INVENTORY_SCHEMA = pa.schema([
    ("person", pa.string()), ("path", pa.string()), ("name", pa.string()),
    ("extension", pa.string()), ("size", pa.int64()), ("created", pa.timestamp("us")),
    ("modified", pa.timestamp("us")), ("accessed", pa.timestamp("us")), ("kind", pa.string()),
    ("depth", pa.int32()), ("content_key", pa.string()),
])
PEOPLE_SCHEMA = pa.schema([
    ("person", pa.string()), ("org_unit", pa.string()), ("status", pa.string()),
    ("left_on", pa.date32()),
])


def file_row(
    person: str,
    path: str,
    size: int = 100,
    modified: datetime = datetime(2020, 1, 1),
    *,
    created: datetime | None = None,
    accessed: datetime | None = None,
    content_key: str | None = None,
    kind: str = "file",
) -> dict[str, Any]:
    name = path.rsplit("/", 1)[-1]
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return {
        "person": person, "path": path, "name": name, "extension": extension, "size": size,
        "created": created or modified, "modified": modified, "accessed": accessed or modified,
        "kind": kind, "depth": path.count("/"), "content_key": content_key,
    }


def person_row(person: str, org_unit: str = "North", left_on: date | None = None) -> dict[str, Any]:
    status = "leaver" if left_on else "active"
    return {"person": person, "org_unit": org_unit, "status": status, "left_on": left_on}


def open_estate(
    rows: list[dict[str, Any]], people: list[dict[str, Any]] | None = None
) -> Estate:
    inventory = pa.Table.from_pylist(rows, schema=INVENTORY_SCHEMA)
    table = pa.Table.from_pylist(people, schema=PEOPLE_SCHEMA) if people is not None else None
    return Estate.open(inventory, table)
