from __future__ import annotations

import io
import os
from pathlib import Path

from mobilise.storage.checksums import HashType, hash_file, hash_stream
from mobilise.storage.quickxor import QuickXorHash
from mobilise.storage.streams import READ_SIZE


class PlainStream:
    """A stream with ``read`` only, like some network bodies."""

    def __init__(self, data: bytes) -> None:
        self._inner = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self._inner.read(min(size, 1000))


def test_file_larger_than_one_read(tmp_path: Path) -> None:
    data = os.urandom(2 * READ_SIZE + 12345)
    (tmp_path / "big").write_bytes(data)
    assert hash_file(tmp_path / "big", HashType.QUICKXOR) == QuickXorHash(data).b64digest()


def test_streams_without_readinto() -> None:
    data = os.urandom(100_000)
    expected = QuickXorHash(data).b64digest()
    assert hash_stream(PlainStream(data), HashType.QUICKXOR) == expected  # type: ignore[arg-type]
    assert hash_stream(io.BytesIO(data), HashType.QUICKXOR) == expected
