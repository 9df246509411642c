"""Input limits taken from the schema itself, so that a file import and the API refuse
what a column cannot hold (a 5,000-character first name in a 100-character column) with
the column's own figure, never a copy of it that drifts.

    column_length(Person.first_name)       -> 100
    Field(max_length=column_length(...))   the API's 422
    importer.Column(max_length=...)        the importer's file:line:column problem
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect


def column_length(attribute: Any) -> int | None:
    """The declared length of a mapped string column (``String(100)`` -> 100); None for
    a column without one (``Text``)."""
    column = attribute.property.columns[0]
    length = getattr(column.type, "length", None)
    return int(length) if length else None


def column_lengths(model: type[Any]) -> dict[str, int]:
    """Every mapped attribute of ``model`` that has a declared length, by its name."""
    found: dict[str, int] = {}
    for attr in inspect(model).column_attrs:
        length = getattr(attr.columns[0].type, "length", None)
        if length:
            found[attr.key] = int(length)
    return found
