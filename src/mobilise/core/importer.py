"""The one file importer: read CSV or XLSX, map columns, validate every row, and either
hand back every row or raise ``ImportRejected`` with every problem as
``file:line:column: message``. The caller then applies the rows in one transaction, so an
import is all or nothing. Used for the roster, manifests, SIMs, spend, user mappings...
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

from mobilise.core.errors import FileProblem, ImportRejected
from mobilise.core.limits import column_lengths

Parser = Callable[[str], Any]
RowCheck = Callable[[dict[str, Any]], list[tuple[str, str]]]


@dataclass(frozen=True)
class Column:
    key: str
    headers: tuple[str, ...] = ()
    parse: Parser = str
    required: bool = True
    default: Any = None
    max_length: int | None = None  # characters, usually the column's (core.limits)

    def names(self) -> set[str]:
        return {normalise_header(h) for h in (self.key, *self.headers)}


def limited(columns: tuple[Column, ...], model: type[Any],
            also: Mapping[str, int | None] | None = None) -> tuple[Column, ...]:
    """``columns`` with the length of ``model``'s column of the same name as their
    ``max_length`` (``also`` gives lengths for keys that name no column of ``model``)."""
    lengths: dict[str, int | None] = {**column_lengths(model), **(also or {})}
    return tuple(replace(c, max_length=lengths.get(c.key, c.max_length)) for c in columns)


@dataclass(frozen=True)
class ImportSpec:
    name: str
    columns: tuple[Column, ...]
    unique: tuple[str, ...] = ()
    row_check: RowCheck | None = None


@dataclass(frozen=True)
class Row:
    line: int
    values: dict[str, Any]
    columns: dict[str, int] = field(repr=False)


def normalise_header(text: str) -> str:
    return re.sub(r"[\s_\-./]+", "", text.strip().lower())


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        bad = data[err.start : err.start + 1].hex()
        raise ImportRejected([FileProblem(
            str(path), line, column,
            f"byte 0x{bad} is not valid UTF-8: save the file as UTF-8 (CSV UTF-8 in Excel)",
        )]) from None


def _csv_records(path: Path, data: bytes) -> Iterator[tuple[int, list[str]]]:
    text = _decode(path, data)
    reader = csv.reader(io.StringIO(text, newline=""))
    start = 1
    try:
        for record in reader:
            yield start, record
            start = reader.line_num + 1
    except csv.Error as err:
        problem = FileProblem(str(path), reader.line_num, 1, f"bad CSV: {err}")
        raise ImportRejected([problem]) from None


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        midnight = value.time() == datetime.min.time()
        return value.date().isoformat() if midnight else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _xlsx_records(path: Path) -> Iterator[tuple[int, list[str]]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as err:  # openpyxl raises many kinds for a damaged file
        problem = FileProblem(str(path), 1, 1, f"not a readable XLSX file: {err}")
        raise ImportRejected([problem]) from None
    try:
        sheet = book.worksheets[0]
        # Read-only mode trusts the sheet's <dimension> element, which files written by
        # other tools often leave stale (A1:P11 over 212 rows): forget it and read every
        # row there is.
        sheet.reset_dimensions()
        for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, [_cell_text(v) for v in row]
    finally:
        book.close()


def records(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line, cells) for every record of a CSV or XLSX file."""
    if path.suffix.lower() in {".xlsx", ".xlsm"}:
        yield from _xlsx_records(path)
    else:
        yield from _csv_records(path, path.read_bytes())


def _map_headers(
    path: Path, header: list[str], spec: ImportSpec, mapping: Mapping[str, str]
) -> tuple[dict[str, int], list[FileProblem]]:
    renames = {normalise_header(k): v for k, v in mapping.items()}
    by_name = {name: col.key for col in spec.columns for name in col.names()}
    positions: dict[str, int] = {}
    for index, raw in enumerate(header):
        name = normalise_header(raw)
        key = renames.get(name) or by_name.get(name)
        if key and key not in positions:
            positions[key] = index
    problems = [
        FileProblem(str(path), 1, 1, f"missing column {col.key!r} (accepted headers: "
                    f"{', '.join(sorted(col.names()))})")
        for col in spec.columns if col.required and col.key not in positions
    ]
    return positions, problems


def read_rows(
    path: str | Path, spec: ImportSpec, *, mapping: Mapping[str, str] | None = None
) -> list[Row]:
    """Every row of the file, parsed and validated; or ``ImportRejected`` with every problem."""
    path = Path(path)
    stream = records(path)
    try:
        _, header = next(stream)
    except StopIteration:
        raise ImportRejected([FileProblem(str(path), 1, 1, "the file is empty")]) from None
    positions, problems = _map_headers(path, header, spec, mapping or {})
    if problems:
        raise ImportRejected(problems)
    rows: list[Row] = []
    seen: dict[str, dict[Any, int]] = {key: {} for key in spec.unique}
    for line, cells in stream:
        if not any(c.strip() for c in cells):
            continue
        row, row_problems = _parse_row(path, line, cells, spec, positions)
        problems += row_problems
        for key in spec.unique:
            value = row.values.get(key)
            if value in (None, ""):
                continue
            folded = value.lower() if isinstance(value, str) else value
            if folded in seen[key]:
                problems.append(FileProblem(
                    str(path), line, positions[key] + 1,
                    f"duplicate {key} {value!r} (also on line {seen[key][folded]})"))
            else:
                seen[key][folded] = line
        rows.append(row)
    if problems:
        raise ImportRejected(problems)
    return rows


def _parse_row(
    path: Path, line: int, cells: list[str], spec: ImportSpec, positions: dict[str, int]
) -> tuple[Row, list[FileProblem]]:
    values: dict[str, Any] = {}
    problems: list[FileProblem] = []
    columns = {key: index + 1 for key, index in positions.items()}
    for col in spec.columns:
        index = positions.get(col.key)
        text = cells[index].strip() if index is not None and index < len(cells) else ""
        if not text:
            if col.required:
                problems.append(FileProblem(str(path), line, (index or 0) + 1,
                                            f"{col.key} is required"))
            values[col.key] = col.default
            continue
        if col.max_length is not None and len(text) > col.max_length:
            problems.append(FileProblem(str(path), line, (index or 0) + 1,
                                        f"{col.key}: {len(text):,} characters; at most "
                                        f"{col.max_length:,}"))
            values[col.key] = None
            continue
        try:
            values[col.key] = col.parse(text)
        except ValueError as err:
            problems.append(FileProblem(str(path), line, (index or 0) + 1, f"{col.key}: {err}"))
            values[col.key] = None
    if spec.row_check and not problems:
        for key, message in spec.row_check(values):
            problems.append(FileProblem(str(path), line, columns.get(key, 1), message))
    return Row(line, values, columns), problems


# --- common parsers ------------------------------------------------------------------------

def parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {"y", "yes", "true", "1"}:
        return True
    if lowered in {"n", "no", "false", "0"}:
        return False
    raise ValueError(f"{text!r} is not yes or no")


def parse_date(text: str) -> date:
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(text.strip()[:10], fmt).date()
        except ValueError:
            continue
    raise ValueError(f"{text!r} is not a date (YYYY-MM-DD or DD/MM/YYYY)")


def choice(*allowed: str) -> Parser:
    folded = {a.lower(): a for a in allowed}

    def parse(text: str) -> str:
        try:
            return folded[text.strip().lower()]
        except KeyError:
            raise ValueError(f"{text!r} is not one of {', '.join(allowed)}") from None

    return parse
