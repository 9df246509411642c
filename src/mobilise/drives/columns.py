"""The inventory's columns: its Arrow schema, the kinds and errors an entry can have, and
the column buffers every walk (local, compiled, SMB) fills. Shared by ``scan`` and
``smb_source``, which both write inventories, so neither imports the other for them."""

from __future__ import annotations

import os
import stat
from enum import StrEnum

import pyarrow as pa
import pyarrow.compute as pc

DEFAULT_BATCH_ROWS = 65_536
DEFAULT_MAX_DEPTH = 256


class ScanError(StrEnum):
    """Why one entry could not be read completely (the ``error`` column)."""

    PERMISSION_DENIED = "permission_denied"
    VANISHED = "vanished"
    TOO_DEEP = "too_deep"
    LOOP = "loop"
    UNREADABLE = "unreadable"


KIND_FILE = "file"
KIND_FOLDER = "folder"
KIND_SYMLINK = "symlink"
KIND_SPECIAL = "special"
# Codes the compiled lister uses, in its order (_lister.c: K_* and E_*).
KINDS = (KIND_FILE, KIND_FOLDER, KIND_SYMLINK, KIND_SPECIAL)
ERRORS = (None, ScanError.PERMISSION_DENIED, ScanError.VANISHED, ScanError.TOO_DEEP,
          ScanError.LOOP, ScanError.UNREADABLE)


SCHEMA = pa.schema(
    [
        pa.field("id", pa.int64(), nullable=False),
        pa.field("parent_id", pa.int64(), nullable=False),  # -1: at the drive root
        pa.field("path", pa.binary(), nullable=False),  # raw bytes, relative to the root
        pa.field("path_text", pa.string(), nullable=False),  # undecodable bytes as \xNN
        pa.field("name", pa.string(), nullable=False),
        pa.field("extension", pa.string()),  # lower case, files only
        pa.field("utf8", pa.bool_(), nullable=False),  # is the name valid UTF-8
        pa.field("size", pa.int64()),
        pa.field("created", pa.timestamp("us", tz="UTC")),  # st_ctime on Linux (no birth time)
        pa.field("modified", pa.timestamp("us", tz="UTC")),
        pa.field("accessed", pa.timestamp("us", tz="UTC")),
        pa.field("mode", pa.uint32()),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("depth", pa.int32(), nullable=False),
        pa.field("error", pa.string()),
    ]
)


class _Columns:
    """Column buffers for one batch. The walk's inner loop appends only a row id, a parent
    id, the relative path and the lstat result; every other column is derived from those
    in vectorised Arrow steps when the batch is flushed."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.ids: list[int] = []
        self.parents: list[int] = []
        self.paths: list[str] = []  # surrogate-escaped text, as os functions give it
        self.names: list[str] = []
        self.stats: list[os.stat_result | None] = []
        self.problems: dict[int, tuple[str, str]] = {}  # row index -> (kind, error)

    def add_problem(
        self, row_id: int, parent: int, path: str, st: os.stat_result | None, kind: str,
        error: str | None,
    ) -> None:
        """A row the fast path cannot describe: a folder's own row or an entry in error."""
        if error is not None or st is None:
            self.problems[len(self.ids)] = (kind, error or "")
        self.ids.append(row_id)
        self.parents.append(parent)
        self.paths.append(path)
        self.names.append(path.rpartition("/")[2])
        self.stats.append(st)

    def __len__(self) -> int:
        return len(self.ids)

    def to_batch(self) -> pa.RecordBatch:
        path_bin, path_text, name, utf8 = _text_columns(self.paths, self.names)
        stats = self.stats
        if self.problems:
            modes = pa.array([s.st_mode if s else None for s in stats], pa.uint32())
            sizes = pa.array([s.st_size if s else None for s in stats], pa.int64())
            ctimes = [s.st_ctime_ns if s else None for s in stats]
            mtimes = [s.st_mtime_ns if s else None for s in stats]
            atimes = [s.st_atime_ns if s else None for s in stats]
        else:
            modes = pa.array([s.st_mode for s in stats], pa.uint32())  # type: ignore[union-attr]
            sizes = pa.array([s.st_size for s in stats], pa.int64())  # type: ignore[union-attr]
            ctimes = [s.st_ctime_ns for s in stats]  # type: ignore[union-attr]
            mtimes = [s.st_mtime_ns for s in stats]  # type: ignore[union-attr]
            atimes = [s.st_atime_ns for s in stats]  # type: ignore[union-attr]
        kinds = _kinds(modes, self.problems)
        ext = pc.struct_field(pc.extract_regex(name, r"[^.]\.(?P<e>[^.]+)$"), "e")
        ext = pc.if_else(pc.equal(kinds, KIND_FILE), pc.utf8_lower(ext), None)
        depth = pc.add(pc.count_substring(path_text, "/"), 1).cast(pa.int32())
        errors: list[str | None] = [None] * len(stats)
        for index, (_, error) in self.problems.items():
            errors[index] = error or None
        columns = [
            pa.array(self.ids, pa.int64()),
            pa.array(self.parents, pa.int64()),
            path_bin,
            path_text,
            name,
            ext,
            utf8,
            sizes,
            _micro_timestamps(ctimes),
            _micro_timestamps(mtimes),
            _micro_timestamps(atimes),
            modes,
            kinds,
            depth,
            pa.array(errors, pa.string()),
        ]
        return pa.RecordBatch.from_arrays(columns, schema=SCHEMA)


def _kinds(modes: pa.Array, problems: dict[int, tuple[str, str]]) -> pa.Array:
    """file / folder / symlink / special from the mode's format bits, vectorised."""
    fmt = pc.bit_wise_and(modes, pa.scalar(stat.S_IFMT(0o177777), pa.uint32()))
    kinds = pc.case_when(
        pc.make_struct(
            pc.equal(fmt, stat.S_IFREG), pc.equal(fmt, stat.S_IFDIR), pc.equal(fmt, stat.S_IFLNK)
        ),
        KIND_FILE, KIND_FOLDER, KIND_SYMLINK, KIND_SPECIAL,
    )
    if not problems:
        return kinds
    values = kinds.to_pylist()
    for index, (kind, _) in problems.items():
        values[index] = kind
    return pa.array(values, pa.string())


def _micro_timestamps(nanos: list[int | None]) -> pa.Array:
    """Nanoseconds from stat, divided in one vectorised step (datetime handles only us)."""
    micros = pc.divide(pa.array(nanos, pa.int64()), 1000)
    return micros.cast(pa.timestamp("us", tz="UTC"))


def _text_columns(paths: list[str], names: list[str]
                  ) -> tuple[pa.Array, pa.Array, pa.Array, pa.Array]:
    """Raw path bytes, path text, name text and name validity for a batch. A batch of
    valid UTF-8 (the usual case) converts in one step; a batch holding a name that is not
    UTF-8 (its undecodable bytes arrive as surrogates) pays for a per-path conversion."""
    try:
        text = pa.array(paths, pa.string())
        name = pa.array(names, pa.string())
        valid = pa.array([True] * len(paths), pa.bool_())
        return text.cast(pa.binary()), text, name, valid
    except (UnicodeEncodeError, pa.ArrowInvalid):
        pass
    raw: list[bytes] = []
    texts: list[str] = []
    valid_names: list[bool] = []
    for path in paths:
        data = path.encode("utf-8", "surrogateescape")
        raw.append(data)
        texts.append(data.decode("utf-8", "backslashreplace"))
    shown = [_shown(n) for n in names]
    valid_names = [_is_utf8(n) for n in names]
    return (pa.array(raw, pa.binary()), pa.array(texts, pa.string()),
            pa.array(shown, pa.string()), pa.array(valid_names, pa.bool_()))


def _shown(name: str) -> str:
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _is_utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
