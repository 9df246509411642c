from __future__ import annotations

import base64

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mobilise.storage.quickxor import (
    GATHER_LIMIT,
    SMALL_UPDATE,
    SPAN,
    QuickXorHash,
    quickxor_b64_many,
    quickxor_many,
)
from tests.storage.quickxor_reference import quickxor_reference

# Vectors published with Microsoft's description of the hash (see reference/onedrive-graph.md).
PUBLISHED = [
    (b"", "AAAAAAAAAAAAAAAAAAAAAAAAAAA="),
    (b"\x4a", "SgAAAAAAAAAAAAAAAQAAAAAAAAA="),
    (b"hello world", "aCgDG9jwBhDc4Q1yawMZAAAAAAA="),
]


@pytest.mark.parametrize(("data", "expected"), PUBLISHED)
def test_published_vectors(data: bytes, expected: str) -> None:
    assert QuickXorHash(data).b64digest() == expected
    assert base64.b64encode(quickxor_reference(data)).decode() == expected


def test_hashlib_shape() -> None:
    h = QuickXorHash()
    assert (h.name, h.digest_size) == ("quickxor", 20)
    h.update(bytearray(b"hello "))
    h.update(memoryview(b"world"))
    assert h.hexdigest() == base64.b64decode("aCgDG9jwBhDc4Q1yawMZAAAAAAA=").hex()
    assert len(h.digest()) == 20
    assert h.length == 11


def test_copy_is_independent() -> None:
    h = QuickXorHash(b"abc")
    twin = h.copy()
    twin.update(b"def")
    assert h.digest() == QuickXorHash(b"abc").digest()
    assert twin.digest() == QuickXorHash(b"abcdef").digest()


def test_accepts_non_byte_buffers() -> None:
    words = np.arange(1000, dtype=np.uint32)
    assert QuickXorHash(words).digest() == quickxor_reference(words.tobytes())


def test_unaligned_memoryview() -> None:
    data = bytes(range(256)) * 200
    view = memoryview(data)[3:]
    assert QuickXorHash(view).digest() == quickxor_reference(data[3:])


def test_large_input_wraps_every_rotation() -> None:
    # Long enough to use the wide fold, not a multiple of any row size.
    data = np.random.default_rng(7).integers(0, 256, 160 * 64 * 3 + 777, dtype=np.uint8)
    assert QuickXorHash(data.tobytes()).digest() == quickxor_reference(data.tobytes())


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=12_000), st.data())
def test_equals_reference_under_any_chunking(data: bytes, draw: st.DataObject) -> None:
    cuts = sorted(draw.draw(st.lists(st.integers(0, len(data)), max_size=12)))
    h = QuickXorHash()
    start = 0
    for cut in [*cuts, len(data)]:
        h.update(data[start:cut])
        start = cut
    assert h.digest() == quickxor_reference(data)


# Chunk sizes around every boundary of the implementation: the 160-byte period, the
# 10 KiB span, the small-update gathering threshold and its limit.
CHUNK_SIZES = st.one_of(
    st.integers(0, 400),
    st.sampled_from([SPAN - 1, SPAN, SPAN + 1, SMALL_UPDATE - 1, SMALL_UPDATE]),
    st.integers(SMALL_UPDATE, GATHER_LIMIT + 5000),
)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 3 * GATHER_LIMIT), st.lists(CHUNK_SIZES))
def test_equals_reference_across_every_boundary(seed: int, size: int, chunks: list[int]) -> None:
    data = np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes()
    h = QuickXorHash()
    start = 0
    for chunk in chunks:
        h.update(data[start : start + chunk])
        start += chunk
    h.update(data[start:])
    assert h.length == size
    assert h.digest() == quickxor_reference(data)


def test_copy_carries_gathered_small_updates() -> None:
    h = QuickXorHash(b"a" * 100)  # small: still gathered, not folded
    twin = h.copy()
    h.update(b"b")
    assert twin.digest() == quickxor_reference(b"a" * 100)
    assert h.digest() == quickxor_reference(b"a" * 100 + b"b")


# Sizes around the 160-byte row the batch pads to, and empty buffers among full ones.
BATCH_BUFFERS = st.lists(
    st.one_of(st.binary(max_size=400), st.sampled_from([b"", b"\0" * 160, b"\xff" * 161]),
              st.integers(0, 2**32 - 1).map(
                  lambda seed: np.random.default_rng(seed).bytes(int(seed % 40_000)))),
    max_size=40)


@settings(max_examples=200, deadline=None)
@given(BATCH_BUFFERS)
def test_many_at_once_is_byte_identical_to_one_at_a_time(buffers: list[bytes]) -> None:
    assert quickxor_many(buffers) == [QuickXorHash(b).digest() for b in buffers]
    assert quickxor_b64_many(buffers) == [QuickXorHash(b).b64digest() for b in buffers]


def test_many_at_once_matches_the_reference_and_published_vectors() -> None:
    data = [d for d, _ in PUBLISHED] + [bytes(range(256)) * 3, b"x" * 1000]
    assert quickxor_many(data) == [quickxor_reference(d) for d in data]
    assert quickxor_b64_many([d for d, _ in PUBLISHED]) == [e for _, e in PUBLISHED]
    assert quickxor_b64_many([]) == []
