"""Shared parameter types for routes: a database id is a positive 63-bit integer, so a
larger number is a 422, never an overflow inside the database driver. And the one check
of every request's query string and path (``plain_request``, on the whole app): a control
character such as a NUL is a 422 before any route sees it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Request

from mobilise.core.limits import refuse_control_characters

MAX_ID = 2**63 - 1

RecordId = Annotated[int, Path(ge=1, le=MAX_ID, description="a record's id")]


def plain_request(request: Request) -> None:
    """Refuse a query string or path with a control character (``q=Ow%00en``)."""
    refuse_control_characters(request.url.path, "the path")
    for name, value in request.query_params.multi_items():
        refuse_control_characters(name, "a query parameter's name")
        refuse_control_characters(value, f"query parameter {name!r}")
