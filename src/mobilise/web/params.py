"""Shared parameter types for routes: a database id is a positive 63-bit integer, so a
larger number is a 422, never an overflow inside the database driver. And the one check
of every request's query string and path (``plain_request``, on the whole app): a control
character such as a NUL is a 422 before any route sees it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Request
from pydantic import Field

from mobilise.core.limits import column_length, refuse_control_characters

MAX_ID = 2**63 - 1

RecordId = Annotated[int, Path(ge=1, le=MAX_ID, description="a record's id")]


def plain_request(request: Request) -> None:
    """Refuse a query string or path with a control character (``q=Ow%00en``)."""
    refuse_control_characters(request.url.path, "the path")
    for name, value in request.query_params.multi_items():
        refuse_control_characters(name, "a query parameter's name")
        refuse_control_characters(value, f"query parameter {name!r}")


def column_field(attribute: Any, default: Any = ..., **options: Any) -> Any:
    """A body field no longer than the column it is stored in (``Hold.reference``): the
    limit read from the schema, never copied by hand."""
    return Field(default, max_length=column_length(attribute), **options)
