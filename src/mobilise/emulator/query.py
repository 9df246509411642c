"""OData query options and conditional headers the drive endpoints honour: ``$select``,
``$filter`` and ``$orderby`` on children, ``If-Match`` / ``If-None-Match``.

Only the subset Microsoft documents for driveItems (and that real OneDrive for Business
answers) is understood; anything else is refused with 400 rather than silently ignored, so
a client never takes an unfiltered answer for a filtered one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from mobilise.emulator.errors import GraphFault, invalid_request
from mobilise.emulator.store import Item

_ORDER_FIELDS = {"name", "size", "lastModifiedDateTime", "createdDateTime"}
_STRING = r"'((?:[^']|'')*)'"
_NAME = re.compile(rf"^name\s+(eq|ne)\s+{_STRING}$")
_STARTS = re.compile(rf"^startswith\(\s*name\s*,\s*{_STRING}\s*\)$")
_FACET = re.compile(r"^(file|folder)\s+(eq|ne)\s+null$")
_SIZE = re.compile(r"^size\s+(eq|ne|gt|ge|lt|le)\s+(\d+)$")
Predicate = Callable[[dict[str, Any]], bool]


def _compare(left: int, op: str, right: int) -> bool:
    return {"eq": left == right, "ne": left != right, "gt": left > right,
            "ge": left >= right, "lt": left < right, "le": left <= right}[op]


def _clause(text: str) -> Predicate:
    if match := _NAME.match(text):
        op, name = match[1], match[2].replace("''", "'").lower()
        return lambda i: (str(i.get("name", "")).lower() == name) == (op == "eq")
    if match := _STARTS.match(text):
        prefix = match[1].replace("''", "'").lower()
        return lambda i: str(i.get("name", "")).lower().startswith(prefix)
    if match := _FACET.match(text):
        facet, present = match[1], match[2] == "ne"
        return lambda i: (facet in i) == present
    if match := _SIZE.match(text):
        op, size = match[1], int(match[2])
        return lambda i: _compare(int(i.get("size", 0)), op, size)
    raise invalid_request(f"Unsupported $filter clause '{text}'.")


def item_filter(text: str) -> Predicate:
    """A predicate over serialised driveItems for clauses joined by ``and``."""
    tests = [_clause(c.strip()) for c in re.split(r"\s+and\s+", text.strip())]
    return lambda item: all(test(item) for test in tests)


def item_order(text: str) -> tuple[str, bool]:
    """``field [asc|desc]`` (one field, as OneDrive takes)."""
    parts = text.split()
    if not parts or parts[0] not in _ORDER_FIELDS or len(parts) > 2 or (
            len(parts) == 2 and parts[1].lower() not in ("asc", "desc")):
        raise invalid_request(f"Unsupported $orderby '{text}'.")
    return parts[0], len(parts) == 2 and parts[1].lower() == "desc"


def select(body: dict[str, Any], fields: str | None) -> dict[str, Any]:
    """Only the properties ``$select`` names (annotations such as ``@odata.type`` stay)."""
    if not fields:
        return body
    wanted = {f.strip() for f in fields.split(",") if f.strip()}
    return {k: v for k, v in body.items() if k in wanted or k.startswith("@odata.")}


def etags(item: Item) -> set[str]:
    return {f'"{{{item.id}}},{item.version}"', f'"c:{{{item.id}}},{item.version}"'}


def _matches(header: str, item: Item | None) -> bool:
    value = header.strip()
    if item is None:
        return False
    if value == "*":
        return True
    value = value[2:] if value.startswith("W/") else value
    return value in etags(item)


def preconditions(headers: Any, item: Item | None, *, reading: bool) -> int | None:
    """412 for a failed If-Match (or a matching If-None-Match on a write); 304 for a
    matching If-None-Match on a read; None when the request may go ahead."""
    if_match = headers.get("if-match")
    if if_match is not None and not _matches(if_match, item):
        raise GraphFault(412, "resourceModified",
                         "ETag does not match the current item's value.")
    if_none = headers.get("if-none-match")
    if if_none is not None and _matches(if_none, item):
        if reading:
            return 304
        raise GraphFault(412, "resourceModified", "The item matches If-None-Match.")
    return None
