"""Uploaded files, the one way: the upload is saved under a temporary folder with the
name the user gave it (no folders: a name is never a path), and every import problem
names that file, never the server's temporary path."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PureWindowsPath

from fastapi import UploadFile

from mobilise.core.errors import FileProblem, ImportRejected

_CHUNK = 1 << 20


def _name(file: UploadFile, default: str) -> str:
    # PureWindowsPath splits on both separators: a browser on Windows may send the path.
    name = PureWindowsPath(file.filename or "").name
    return name if name not in ("", ".", "..") else default


@contextmanager
def uploaded(file: UploadFile, default: str = "upload.csv") -> Iterator[Path]:
    """The upload as a temporary file, removed afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / _name(file, default)
        with path.open("wb") as out:
            while chunk := file.file.read(_CHUNK):
                out.write(chunk)
        try:
            yield path
        except ImportRejected as err:
            raise ImportRejected([FileProblem(path.name if p.file == str(path) else p.file,
                                              p.line, p.column, p.message)
                                  for p in err.problems]) from None
