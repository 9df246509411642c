"""The one renderer for lists and reports: ``table`` (Rich), ``json``, ``csv`` and ``html``.

Exports are opened in Excel by people who trust them, so every CSV/XLSX cell that starts
with a formula trigger is neutralised here, in one place (OWASP CSV injection guidance).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Any

from markupsafe import escape

from mobilise.core.audit import json_safe

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"
    HTML = "html"


def neutralise(value: Any) -> Any:
    """Prefix a text cell that a spreadsheet would run as a formula with a quote."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def _cell(value: Any) -> str:
    value = json_safe(value)
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def to_csv(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([neutralise(_cell(row.get(c))) for c in columns])
    return out.getvalue()


def to_json(data: Any) -> str:
    return json.dumps(json_safe(data), indent=2, ensure_ascii=False)


def to_html(rows: Iterable[Mapping[str, Any]], columns: Sequence[str], title: str = "") -> str:
    head = "".join(f'<th scope="col">{escape(c)}</th>' for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(_cell(r.get(c)))}</td>" for c in columns) + "</tr>"
        for r in rows
    )
    caption = f"<caption>{escape(title)}</caption>" if title else ""
    return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    fmt: Format | str = Format.TABLE,
    *,
    title: str = "",
) -> str:
    """Render rows in the requested format; ``table`` returns Rich's text rendering."""
    fmt = Format(fmt)
    if fmt is Format.JSON:
        return to_json([{c: r.get(c) for c in columns} for r in rows])
    if fmt is Format.CSV:
        return to_csv(rows, columns)
    if fmt is Format.HTML:
        return to_html(rows, columns, title)
    return _table(rows, columns, title)


def _table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], title: str) -> str:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title or None, show_lines=False)
    for c in columns:
        table.add_column(c)
    for r in rows:
        table.add_row(*[_cell(r.get(c)) for c in columns])
    console = Console(record=True, width=200, file=io.StringIO())
    console.print(table)
    return console.export_text()
