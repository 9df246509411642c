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
