"""QuickXorHash, the only hash OneDrive for Business exposes (``file.hashes.quickXorHash``).

The hash keeps a 160-bit state; the byte at absolute offset ``k`` is XORed into it rotated
left by ``11 * k mod 160`` bits, and the total length (8 bytes, little-endian) is XORed into
bytes 12-19 of the little-endian output. Because 160 bits is 20 bytes and the rotation of a
byte depends only on ``k mod 160``, XOR-ing every byte with the others at the same offset
modulo 160 first and rotating each of the 160 folded bytes once at the end gives the same
state. The fold is a column-wise XOR over rows of 160 bytes, which NumPy does on 64-bit
words (160 is a multiple of 8) at memory speed, so hashing costs little more than reading.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Final, Self

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:  # collections.abc.Buffer arrives only in Python 3.12
    from typing_extensions import Buffer

PERIOD: Final = 160  # bytes: a byte's rotation repeats every 160 offsets
WORDS: Final = PERIOD // 8  # uint64 words in one 160-byte row
SHIFT: Final = 11  # bits of rotation per byte of offset
STATE_BITS: Final = 160
# Reducing rows of 64 periods (10 KiB) at a time gives NumPy long inner loops; folding the
# 64 partial columns into one afterwards is cheap. Measured about 2.5x faster than reducing
# 160-byte rows directly.
WIDE_WORDS: Final = WORDS * 64

Words = npt.NDArray[np.uint64]


def _fold(words: Words) -> Words:
    """XOR of all 160-byte rows of ``words`` (whose length is a multiple of 20)."""
    folded = np.zeros(WORDS, dtype=np.uint64)
    wide_rows = len(words) // WIDE_WORDS
    if wide_rows:
        wide = words[: wide_rows * WIDE_WORDS].reshape(wide_rows, WIDE_WORDS)
        columns = np.bitwise_xor.reduce(wide, axis=0)
        folded ^= np.bitwise_xor.reduce(columns.reshape(-1, WORDS), axis=0)
    rest = words[wide_rows * WIDE_WORDS :]
    if len(rest):
        folded ^= np.bitwise_xor.reduce(rest.reshape(-1, WORDS), axis=0)
    return folded


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
        # The column XOR of everything seen, as 20 words; _columns is the same memory
        # seen as 160 bytes, for the unaligned head and tail of each update.
        self._words: Words = np.zeros(WORDS, dtype=np.uint64)
        self._columns = self._words.view(np.uint8)
        self._length = 0
        self.update(data)

    def update(self, data: Buffer) -> None:
        view = memoryview(data).cast("B")
        size = len(view)
        if not size:
            return
        done = self._update_head(view)
        rows = (size - done) // PERIOD
        if rows:
            end = done + rows * PERIOD
            self._words ^= _fold(np.frombuffer(view[done:end], dtype=np.uint64))
            done = end
        if done < size:
            tail = np.frombuffer(view[done:], dtype=np.uint8)
            self._columns[: len(tail)] ^= tail
        self._length += size

    def _update_head(self, view: memoryview) -> int:
        """XOR in the bytes that complete a partly filled row; return how many."""
        phase = self._length % PERIOD
        if not phase:
            return 0
        take = min(PERIOD - phase, len(view))
        self._columns[phase : phase + take] ^= np.frombuffer(view[:take], dtype=np.uint8)
        return take

    def digest(self) -> bytes:
        state = 0
        for offset, value in enumerate(self._columns.tolist()):
            if value:
                state ^= value << (SHIFT * offset % STATE_BITS)
        # A byte rotated near the top spills past bit 160; rotation wraps it to the bottom.
        state = (state & ((1 << STATE_BITS) - 1)) ^ (state >> STATE_BITS)
        out = bytearray(state.to_bytes(self.digest_size, "little"))
        length = (self._length % (1 << 64)).to_bytes(8, "little")
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
        twin._words[:] = self._words
        twin._length = self._length
        return twin

    @property
    def length(self) -> int:
        """Bytes hashed so far."""
        return self._length
