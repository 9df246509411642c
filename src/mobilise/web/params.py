"""Shared parameter types for routes: a database id is a positive 63-bit integer, so a
larger number is a 422, never an overflow inside the database driver."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

MAX_ID = 2**63 - 1

RecordId = Annotated[int, Path(ge=1, le=MAX_ID, description="a record's id")]
