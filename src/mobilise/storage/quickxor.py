"""QuickXorHash, the only hash OneDrive for Business exposes (``file.hashes.quickXorHash``).

The hash keeps a 160-bit state; the byte at absolute offset ``k`` is XORed into it rotated
left by ``11 * k mod 160`` bits, and the total length (8 bytes, little-endian) is XORed into
bytes 12-19 of the little-endian output. Because 160 bits is 20 bytes and the rotation of a
byte depends only on ``k mod 160``, XOR-ing every byte with the others at the same offset
modulo 160 first and rotating each of the 160 folded bytes once at the end gives the same
state. The fold is a column-wise XOR over rows of 160 bytes (64 of them at a time), which
NumPy does on 64-bit words (160 is a multiple of 8) at memory speed, so hashing costs
little more than reading.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Final, Self

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:  # collections.abc.Buffer arrives only in Python 3.12
    from typing_extensions import Buffer

PERIOD: Final = 160  # bytes: a byte's rotation repeats every 160 offsets
SHIFT: Final = 11  # bits of rotation per byte of offset
STATE_BITS: Final = 160
# The accumulator spans 64 periods (10 KiB) rather than one: XOR-reducing rows that long
# gives NumPy long inner loops (2.5x faster than 160-byte rows), any update shorter than
# it is one vector XOR, and the 64 periods are folded into one only at digest time.
SPAN: Final = PERIOD * 64
SPAN_WORDS: Final = SPAN // 8  # 160 is a multiple of 8, so rows are whole uint64 words
# Each NumPy call costs about a microsecond whatever its size, so tiny updates (network
# reads, 4 KiB file reads) are gathered and folded 256 KiB at a time.
SMALL_UPDATE: Final = 32 * 1024
GATHER_LIMIT: Final = 256 * 1024


class QuickXorHash:
    """A hashlib-style QuickXorHash object.

    >>> h = QuickXorHash(b"hello ")
    >>> h.update(b"world")
    >>> h.b64digest()
    'aCgDG9jwBhDc4Q1yawMZAAAAAAA='
    """

    name: Final = "quickxor"
    digest_size: Final = 20
    block_size: Final = PERIOD

    def __init__(self, data: Buffer = b"") -> None:
        # Byte i of the span holds the XOR of every byte seen at an offset k with
        # k % SPAN == i; the same memory as words, for the bulk XOR.
        self._span_words: npt.NDArray[np.uint64] = np.zeros(SPAN_WORDS, dtype=np.uint64)
        self._span = self._span_words.view(np.uint8)
        self._length = 0  # bytes folded into the span
        self._gathered = bytearray()  # small updates not folded yet
        self.update(data)

    def update(self, data: Buffer) -> None:
        view = memoryview(data).cast("B")
        if len(view) < SMALL_UPDATE:
            self._gathered += view
            if len(self._gathered) >= GATHER_LIMIT:
                self._fold_gathered()
            return
        self._fold_gathered()
        self._fold_in(view)

    def _fold_gathered(self) -> None:
        if self._gathered:
            gathered, self._gathered = self._gathered, bytearray()
            self._fold_in(memoryview(gathered))

    def _fold_in(self, view: memoryview) -> None:
        size = len(view)
        done = 0
        phase = self._length % SPAN
        if phase:  # complete the partly filled span first
            done = min(SPAN - phase, size)
            self._span[phase : phase + done] ^= np.frombuffer(view[:done], dtype=np.uint8)
        rows = (size - done) // SPAN
        if rows:
            words = np.frombuffer(view[done : done + rows * SPAN], dtype=np.uint64)
            self._span_words ^= np.bitwise_xor.reduce(words.reshape(rows, SPAN_WORDS), axis=0)
            done += rows * SPAN
        if done < size:  # starts a fresh span, at its beginning
            self._span[: size - done] ^= np.frombuffer(view[done:], dtype=np.uint8)
        self._length += size

    def digest(self) -> bytes:
        self._fold_gathered()
        columns = np.bitwise_xor.reduce(self._span.reshape(-1, PERIOD), axis=0)
        state = 0
        for offset, value in enumerate(columns.tolist()):
            if value:
                state ^= value << (SHIFT * offset % STATE_BITS)
        # A byte rotated near the top spills past bit 160; rotation wraps it to the bottom.
        state = (state & ((1 << STATE_BITS) - 1)) ^ (state >> STATE_BITS)
        out = bytearray(state.to_bytes(self.digest_size, "little"))
        length = (self.length % (1 << 64)).to_bytes(8, "little")
        for i, value in enumerate(length):
            out[self.digest_size - 8 + i] ^= value
        return bytes(out)

    def hexdigest(self) -> str:
        return self.digest().hex()

    def b64digest(self) -> str:
        """The form Graph reports in ``file.hashes.quickXorHash``."""
        return base64.b64encode(self.digest()).decode("ascii")

    def copy(self) -> Self:
        twin = type(self)()
        twin._span_words[:] = self._span_words
        twin._length = self._length
        twin._gathered = bytearray(self._gathered)
        return twin

    @property
    def length(self) -> int:
        """Bytes hashed so far."""
        return self._length + len(self._gathered)


# --------------------------------------------------------------------------- many at once

_ROW_WORDS: Final = PERIOD // 8  # a 160-byte row as uint64 words
_PADDING: Final = bytes(PERIOD)


def _rotation_tables() -> tuple[npt.NDArray[np.uint16], npt.NDArray[np.intp],
                                 npt.NDArray[np.intp]]:
    """How each byte of a folded row lands in the 20-byte state. Byte ``c`` is rotated
    left by ``r = 11c mod 160`` bits: shifted by ``r mod 8`` bits as a 16-bit value, its
    low byte is XORed into state byte ``r // 8`` and its high byte into the next (160 bits
    is a whole number of bytes, so the rotation wraps on a byte boundary). As 11 and 160
    are coprime every state byte receives exactly 8 low bytes and 8 high bytes, so each
    state byte is one XOR over 8 gathered bytes, done as one 64-bit word."""
    rotation = np.arange(PERIOD) * SHIFT % STATE_BITS
    low: list[list[int]] = [[] for _ in range(20)]
    high: list[list[int]] = [[] for _ in range(20)]
    for column, bits in enumerate(rotation.tolist()):
        low[bits // 8].append(column)
        high[(bits // 8 + 1) % 20].append(column)
    return ((rotation % 8).astype(np.uint16), np.array(low, dtype=np.intp).ravel(),
            np.array(high, dtype=np.intp).ravel())


_BIT_SHIFTS, _LOW_BYTES, _HIGH_BYTES = _rotation_tables()


def _rotate_rows(folded: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """The 20-byte states of many folded 160-byte rows (one row per buffer)."""
    shifted = folded.astype(np.uint16) << _BIT_SHIFTS
    low = shifted.astype(np.uint8)
    high = (shifted >> 8).astype(np.uint8)
    # ``take`` keeps the result C-ordered, so 8 gathered bytes read as one word.
    words = np.take(low, _LOW_BYTES, axis=1).view(np.uint64) \
        ^ np.take(high, _HIGH_BYTES, axis=1).view(np.uint64)
    words ^= words >> 32
    words ^= words >> 16
    words ^= words >> 8
    return words.astype(np.uint8)


def quickxor_many(buffers: list[bytes]) -> list[bytes]:
    """The digests of many buffers at once, identical to ``QuickXorHash(b).digest()``
    for each. Hashing a small file alone costs a dozen NumPy calls of about a microsecond
    each, more than reading it; here every buffer is zero-padded to whole 160-byte rows
    (zeros change no XOR), all rows are folded per buffer in one ``reduceat``, and the
    rotations of every folded row are applied together by table (``_rotation_tables``)."""
    count = len(buffers)
    if count == 0:
        return []
    lengths = np.fromiter((len(b) for b in buffers), dtype=np.int64, count=count)
    rows = (lengths + PERIOD - 1) // PERIOD
    folded = np.zeros((count, _ROW_WORDS), dtype=np.uint64)
    filled = np.flatnonzero(rows)
    if len(filled):
        parts: list[bytes | memoryview] = []
        for i in filled.tolist():
            buffer = buffers[i]
            parts.append(buffer)
            parts.append(_PADDING[: -len(buffer) % PERIOD])
        words = np.frombuffer(b"".join(parts), dtype=np.uint64).reshape(-1, _ROW_WORDS)
        starts = np.concatenate(([0], np.cumsum(rows[filled])[:-1]))
        folded[filled] = np.bitwise_xor.reduceat(words, starts, axis=0)
    out = _rotate_rows(folded.view(np.uint8))
    out[:, 12:20] ^= lengths.astype("<u8").view(np.uint8).reshape(count, 8)
    flat = out.tobytes()
    return [flat[i * 20 : i * 20 + 20] for i in range(count)]


def quickxor_b64_many(buffers: list[bytes]) -> list[str]:
    """``quickxor_many`` in the base64 form Graph reports."""
    # One base64 call for all: each 20-byte digest padded to 21 bytes encodes to 28
    # characters on its own boundary, the same as its own encoding but for the final
    # "=" (the padding byte adds only zero bits, which the "=" form also assumes).
    digests = quickxor_many(buffers)
    if not digests:
        return []
    text = base64.b64encode(b"\0".join(digests) + b"\0").decode("ascii")
    return [text[i * 28 : i * 28 + 27] + "=" for i in range(len(digests))]
