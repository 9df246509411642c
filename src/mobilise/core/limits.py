"""Input limits taken from the schema itself, so that a file import and the API refuse
what a column cannot hold (a 5,000-character first name in a 100-character column) with
the column's own figure, never a copy of it that drifts.

    column_length(Person.first_name)       -> 100
    web.params.column_field(Person.first_name)   the API's 422, with the field named
    importer.limited(columns, Person)            the importer's file:line:column problem
    a before_flush check                         every other write (a 422, not a 500)
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from mobilise.core.errors import InvalidInput


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


# --- nesting ---------------------------------------------------------------------------

MAX_NESTING = 64
"""Levels of lists and mappings a rule set, a hold selector or a JSON document may nest:
far more than any real one needs, far fewer than Python's recursion limit, which a
document of 3,000 '[' would otherwise reach (a RecursionError, a 500)."""


def compose_yaml(text: str) -> yaml.Node | None:
    """The YAML node tree of ``text``, or ``NestedTooDeep`` when its lists and mappings
    nest deeper than ``MAX_NESTING`` (``yaml.YAMLError`` for text that is not YAML)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError:
        raise NestedTooDeep(f"nested deeper than {MAX_NESTING} levels") from None
    # The tree is walked without recursion: whatever reads it next recurses safely.
    stack = [(root, 1)] if root is not None else []
    while stack:
        node, depth = stack.pop()
        if depth > MAX_NESTING:
            raise NestedTooDeep(f"nested deeper than {MAX_NESTING} levels", node)
        if isinstance(node, yaml.SequenceNode):
            stack += [(child, depth + 1) for child in node.value]
        elif isinstance(node, yaml.MappingNode):
            stack += [(v, depth + 1) for _, v in node.value]
    return root


def load_yaml(text: str) -> Any:
    """``yaml.safe_load`` within ``MAX_NESTING``."""
    root = compose_yaml(text)
    return None if root is None else yaml.SafeLoader(text).construct_document(root)


class NestedTooDeep(InvalidInput):
    def __init__(self, message: str, node: yaml.Node | None = None) -> None:
        mark = node.start_mark if node is not None else None
        self.line, self.column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        super().__init__(message)


# --- text ------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def refuse_control_characters(value: str, what: str) -> str:
    """``value`` unless it holds a control character (a NUL, say: PostgreSQL refuses it
    in any text, and no name, number or search term has one)."""
    found = _CONTROL.search(value)
    if found:
        raise InvalidInput(f"{what} has a control character (U+{ord(found.group()):04X}) "
                           f"at position {found.start() + 1}")
    return value


# --- every write ---------------------------------------------------------------------------

_LENGTHS: dict[type[Any], tuple[tuple[str, str, int], ...]] = {}


def _lengths_of(model: type[Any]) -> tuple[tuple[str, str, int], ...]:
    if model not in _LENGTHS:
        _LENGTHS[model] = tuple(
            (attr.key, attr.columns[0].name, int(attr.columns[0].type.length))
            for attr in inspect(model).column_attrs
            if getattr(attr.columns[0].type, "length", None))
    return _LENGTHS[model]


@event.listens_for(Session, "before_flush")
def _refuse_overlong_values(session: Session, _context: Any, _instances: Any) -> None:
    """The last line for any write that no importer or route bounded: PostgreSQL would
    refuse a value longer than its column (a 500), SQLite would silently keep it."""
    for obj in (*session.new, *session.dirty):
        state = vars(obj)
        for key, column, length in _lengths_of(type(obj)):
            value = state.get(key)
            if isinstance(value, str) and len(value) > length:
                raise InvalidInput(f"{type(obj).__tablename__}.{column}: {len(value):,} "
                                   f"characters; at most {length:,}")
