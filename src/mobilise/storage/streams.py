"""Reading streams in large pieces without allocating a new object per piece."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

# Large reads keep per-call overhead negligible next to hashing or writing; 4 MiB costs
# little memory per worker.
READ_SIZE = 4 * 1024 * 1024

Readable = BinaryIO | io.RawIOBase | io.BufferedIOBase


def read_chunks(stream: Readable) -> Iterator[memoryview]:
    """The stream's content in pieces. Each piece is only valid until the next one is
    asked for: the same buffer is refilled, which avoids allocating (and page-faulting)
    a fresh 4 MiB object per read."""
    if not isinstance(stream, io.RawIOBase | io.BufferedIOBase):
        while chunk := stream.read(READ_SIZE):
            yield memoryview(chunk)
        return
    view = memoryview(bytearray(READ_SIZE))
    while count := stream.readinto(view):
        yield view[:count]


class SourceFailed(Exception):
    """Carries an error raised while reading the stream given to ``write`` past a
    backend's translation of its own ``OSError``s."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


def source_chunks(stream: BinaryIO) -> Iterator[memoryview]:
    chunks = read_chunks(stream)
    while True:
        try:
            chunk = next(chunks, None)
        except OSError as exc:
            raise SourceFailed(exc) from exc
        if chunk is None:
            return
        yield chunk


@contextmanager
def source_errors_raised() -> Iterator[None]:
    """Outermost in a backend's ``write``: a failure of the source stream is raised as
    the source's own error, not dressed up as one of the destination's."""
    try:
        yield
    except SourceFailed as exc:
        raise exc.error from None
